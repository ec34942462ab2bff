import type { MessageInitShape } from "@bufbuild/protobuf";
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { FilterError } from "./filter-error.js";
import { compileFilter, compileFilters } from "./filters.js";
import type { GetEventsResponse } from "./gen/tetragon/events_pb.js";
import { EventType, FilterSchema, GetEventsResponseSchema } from "./gen/tetragon/events_pb.js";
import { seedEvent } from "./testing/seed-event.js";

type FilterInit = MessageInitShape<typeof FilterSchema>;
const filter = (init: FilterInit) => create(FilterSchema, init);

// A host process (no pod) started by systemd, inside the host's init tree.
const hostExec: GetEventsResponse = create(GetEventsResponseSchema, {
  event: {
    case: "processExec",
    value: {
      process: { pid: 42, binary: "/usr/bin/ls", arguments: "-la /tmp", docker: "", inInitTree: true },
      parent: { pid: 1, binary: "/usr/lib/systemd/systemd", arguments: "--system" },
    },
  },
  nodeName: "node-a",
});

const probeExec: GetEventsResponse = create(GetEventsResponseSchema, {
  event: {
    case: "processExec",
    value: {
      process: {
        pid: 77,
        binary: "/bin/grpc_health_probe",
        arguments: "-addr=:8080",
        docker: "abcdef0123456789abcdef012345678",
        pod: {
          namespace: "kube-system",
          name: "coredns-5d78c9869d-abcde",
          podLabels: { "k8s-app": "kube-dns", tier: "control-plane" },
          container: { name: "coredns", maybeExecProbe: true },
        },
      },
    },
  },
});

const exitEvent: GetEventsResponse = create(GetEventsResponseSchema, {
  event: { case: "processExit", value: { process: { pid: 42, binary: "/usr/bin/ls" }, signal: "SIGKILL" } },
});

const rateLimit: GetEventsResponse = create(GetEventsResponseSchema, {
  event: { case: "rateLimitInfo", value: { numberOfDroppedProcessEvents: 3n } },
});

const seed = seedEvent();

type Case = [
  name: string,
  init: MessageInitShape<typeof FilterSchema>,
  matches: GetEventsResponse[],
  misses: GetEventsResponse[],
];

const cases: Case[] = [
  ["empty filter matches everything", {}, [seed, hostExec, probeExec, exitEvent, rateLimit], []],
  ["binary_regex is unanchored", { binaryRegex: ["nsent"] }, [seed], [hostExec, probeExec, rateLimit]],
  [
    "binary_regex values are ORed",
    { binaryRegex: ["^/usr/bin/ls$", "nsenter"] },
    [seed, hostExec, exitEvent],
    [probeExec],
  ],
  ["binary_regex honours a leading (?i)", { binaryRegex: ["(?i)NSENTER"] }, [seed], [hostExec]],
  ["namespace is exact", { namespace: ["default"] }, [seed], [hostExec, probeExec, rateLimit]],
  ["namespace prefix does not match", { namespace: ["def"] }, [], [seed]],
  [
    'namespace "" selects host processes',
    { namespace: [""] },
    [hostExec, exitEvent],
    [seed, probeExec, rateLimit],
  ],
  ["pid", { pid: [42, 63066] }, [seed, hostExec, exitEvent], [probeExec, rateLimit]],
  [
    "event_set compares the oneof number",
    { eventSet: [EventType.PROCESS_KPROBE] },
    [seed],
    [hostExec, exitEvent],
  ],
  [
    "event_set matches events without a process",
    { eventSet: [EventType.RATE_LIMIT_INFO] },
    [rateLimit],
    [seed],
  ],
  ["pod_regex", { podRegex: ["^xw"] }, [seed], [probeExec, hostExec]],
  ["arguments_regex", { argumentsRegex: ["-t 1"] }, [seed], [hostExec, probeExec]],
  ["parent_binary_regex", { parentBinaryRegex: ["bash$"] }, [seed], [hostExec, probeExec]],
  ["parent_arguments_regex", { parentArgumentsRegex: ["--system"] }, [hostExec], [seed, probeExec]],
  ["container_id is a regex on process.docker", { containerId: ["^057dc8"] }, [seed], [hostExec, probeExec]],
  ["container_name_regex", { containerNameRegex: ["ship"] }, [seed], [probeExec, hostExec]],
  ["namespace_regex", { namespaceRegex: ["^kube-"] }, [probeExec], [seed, hostExec]],
  ["policy_names", { policyNames: ["namespace-access"] }, [seed], [hostExec, rateLimit]],
  ["policy_names is exact", { policyNames: ["namespace"] }, [], [seed]],
  ["health_check true", { healthCheck: true }, [probeExec], [seed, hostExec, rateLimit]],
  ["health_check false", { healthCheck: false }, [seed, hostExec], [probeExec, rateLimit]],
  ["in_init_tree true", { inInitTree: true }, [hostExec], [seed, rateLimit]],
  [
    "in_init_tree false counts a missing value as false",
    { inInitTree: false },
    [seed, probeExec],
    [hostExec, rateLimit],
  ],
  ["labels equality", { labels: ["org=alliance"] }, [seed], [probeExec, hostExec]],
  ["labels never match host events, even negations", { labels: ["!org"] }, [probeExec], [hostExec, seed]],
  ["labels set-based and comma AND", { labels: ["k8s-app in (kube-dns, other),tier"] }, [probeExec], [seed]],
  ["labels values are ORed", { labels: ["class=xwing", "tier notin (web)"] }, [seed, probeExec], [hostExec]],
  [
    "set fields are ANDed",
    { namespace: ["default"], binaryRegex: ["nsenter"], eventSet: [EventType.PROCESS_KPROBE] },
    [seed],
    [hostExec, probeExec],
  ],
  ["AND fails when one field misses", { namespace: ["default"], binaryRegex: ["bash"] }, [], [seed]],
];

describe("compileFilter", () => {
  for (const [name, init, matches, misses] of cases) {
    it(name, () => {
      const p = compileFilter(filter(init));
      for (const ev of matches) expect(p(ev), `should match ${ev.event.case}`).toBe(true);
      for (const ev of misses) expect(p(ev), `should not match ${ev.event.case}`).toBe(false);
    });
  }
});

describe("compileFilters", () => {
  const all = [seed, hostExec, probeExec, exitEvent, rateLimit];
  const passing = (
    allow: MessageInitShape<typeof FilterSchema>[],
    deny: MessageInitShape<typeof FilterSchema>[],
  ) => {
    const p = compileFilters(allow.map(filter), deny.map(filter));
    return all.filter(p);
  };

  it("passes everything when both lists are empty", () => {
    expect(passing([], [])).toEqual(all);
  });
  it("allow list: any Filter may match", () => {
    expect(passing([{ namespace: ["default"] }, { eventSet: [EventType.RATE_LIMIT_INFO] }], [])).toEqual([
      seed,
      rateLimit,
    ]);
  });
  it("deny list removes matches; an empty allow list allows the rest", () => {
    expect(passing([], [{ healthCheck: true }, { namespace: [""] }])).toEqual([seed, rateLimit]);
  });
  it("allow minus deny", () => {
    expect(passing([{ binaryRegex: ["ls$", "nsenter"] }], [{ eventSet: [EventType.PROCESS_EXIT] }])).toEqual([
      seed,
      hostExec,
    ]);
  });
  it("an empty deny Filter denies everything", () => {
    expect(passing([], [{}])).toEqual([]);
  });
});

describe("filter errors", () => {
  const invalid: [string, FilterInit][] = [
    ["binary_regex", { binaryRegex: ["("] }],
    ["pod_regex", { podRegex: ["[a-"] }],
    ["parent_arguments_regex", { parentArgumentsRegex: ["*x"] }],
    ["labels", { labels: ["k in (a"] }],
    ["labels", { labels: ["a,,b"] }],
    ["labels", { labels: ["bad key!=x"] }],
  ];
  it.each(invalid)("%s rejects invalid input", (field, init) => {
    const err = catchError(() => compileFilter(filter(init)));
    expect(err).toBeInstanceOf(FilterError);
    expect((err as FilterError).field).toBe(field);
  });
});

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error("expected an error");
}
