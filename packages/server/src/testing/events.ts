import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  type GetEventsResponse,
  GetEventsResponseSchema,
  KprobeAction,
  KprobeArgumentSchema,
  ProcessExecSchema,
  ProcessKprobeSchema,
} from "@nsguard/sdk";

export interface SampleEventOptions {
  binary?: string;
  /** Pod namespace; undefined = a host process (no pod). */
  namespace?: string;
  /** Extra bytes of process arguments, to make events bigger. */
  padding?: number;
}

/**
 * A realistic setns kprobe event numbered `i`: nested messages, a oneof, a map, wrapper
 * fields, a 64-bit integer and a timestamp, so wire round trips exercise every encoding.
 */
export function sampleKprobeEvent(i: number, options: SampleEventOptions = {}): GetEventsResponse {
  const pod =
    options.namespace === undefined
      ? undefined
      : { namespace: options.namespace, name: `pod-${i % 7}`, podLabels: { app: "victim", tier: "web" } };
  return create(GetEventsResponseSchema, {
    event: {
      case: "processKprobe",
      value: create(ProcessKprobeSchema, {
        process: {
          execId: `bm9kZS0xOjEyMzQ1Njc4OTA6${i}`,
          pid: 4000 + i,
          uid: 0,
          binary: options.binary ?? "/usr/bin/nsenter",
          arguments: `--target 1 --mount --pid -- sh${"x".repeat(options.padding ?? 0)}`,
          flags: "execve clone",
          startTime: timestampFromMs(1_700_000_000_000 + i),
          pod,
          refcnt: 1,
          inInitTree: false,
        },
        functionName: "__x64_sys_setns",
        policyName: "namespace-access",
        action: KprobeAction.POST,
        args: [
          create(KprobeArgumentSchema, { arg: { case: "intArg", value: 3 } }),
          create(KprobeArgumentSchema, { arg: { case: "sizeArg", value: 0x40000000n + BigInt(i) } }),
        ],
      }),
    },
    nodeName: "node-1",
    time: timestampFromMs(1_700_000_000_000 + i),
    nodeLabels: { "kubernetes.io/hostname": "node-1", zone: "a" },
  });
}

/** A process_exec event, for event_set filters. */
export function sampleExecEvent(i: number): GetEventsResponse {
  return create(GetEventsResponseSchema, {
    event: {
      case: "processExec",
      value: create(ProcessExecSchema, {
        process: { execId: `exec-${i}`, pid: 9000 + i, binary: "/bin/true", arguments: "" },
      }),
    },
    nodeName: "node-1",
    time: timestampFromMs(1_700_000_000_000 + i),
  });
}
