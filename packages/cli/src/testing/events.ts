import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { GetEventsResponse } from "@nsguard/sdk";
import { GetEventsResponseSchema, KprobeAction } from "@nsguard/sdk";

/** The seed's setns event (trimmed to what the CLI shows): nsenter in default/xwing joining the host IPC namespace. */
export const setnsEvent: GetEventsResponse = create(GetEventsResponseSchema, {
  event: {
    case: "processKprobe",
    value: {
      process: {
        pid: 63066,
        binary: "/usr/bin/nsenter",
        arguments: "-t 1 -m -u -n -i -p",
        pod: { namespace: "default", name: "xwing" },
      },
      functionName: "__x64_sys_setns",
      args: [{ arg: { case: "intArg", value: 3 } }, { arg: { case: "intArg", value: 134217728 } }],
      action: KprobeAction.POST,
      policyName: "namespace-access",
    },
  },
  nodeName: "tetragon-dev-control-plane",
  time: timestampFromMs(Date.UTC(2026, 0, 30, 18, 15, 20, 1)),
});

/** A host process exec on the same node. */
export const hostExecEvent: GetEventsResponse = create(GetEventsResponseSchema, {
  event: {
    case: "processExec",
    value: { process: { pid: 4242, binary: "/usr/bin/ip", arguments: "netns exec blue true" } },
  },
  nodeName: "node-1",
  time: timestampFromMs(Date.UTC(2026, 0, 30, 18, 15, 21, 500)),
});
