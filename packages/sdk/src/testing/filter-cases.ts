/**
 * Shared filter tables: the SDK's, the server's and the CLI's tests run the same cases, so the
 * one filter implementation is checked wherever it is used. Test-only: not exported from the
 * package index; other packages' tests import this file by path.
 *
 * Every Filter field has cases here (RE2 semantics included), and every FieldFilter case.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import { create } from "@bufbuild/protobuf";
import { CapabilitiesType } from "../gen/tetragon/capabilities_pb.js";
import type { FieldFilterSchema, FilterSchema, GetEventsResponse } from "../gen/tetragon/events_pb.js";
import { EventType, FieldFilterAction, GetEventsResponseSchema } from "../gen/tetragon/events_pb.js";
import { seedEvent } from "./seed-event.js";

export type FilterInit = MessageInitShape<typeof FilterSchema>;
export type FieldFilterInit = MessageInitShape<typeof FieldFilterSchema>;

const exec = (value: MessageInitShape<typeof GetEventsResponseSchema>["event"]) =>
  create(GetEventsResponseSchema, { event: value, nodeName: "node-a" });

/** The events the cases refer to by name. Each call gives fresh messages. */
export function filterEvents() {
  return {
    /** The seed: a process_kprobe of nsenter (pid 63066) in pod default/xwing, parent bash. */
    seed: seedEvent(),
    /** A host process (no pod) started by systemd, in the init tree. */
    hostExec: exec({
      case: "processExec",
      value: {
        process: { pid: 42, binary: "/usr/bin/ls", arguments: "-la /tmp", docker: "", inInitTree: true },
        parent: { pid: 1, binary: "/usr/lib/systemd/systemd", arguments: "--system" },
      },
    }),
    /** A kubelet exec probe in kube-system, with a numeric label. */
    probeExec: exec({
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
            podLabels: { "k8s-app": "kube-dns", tier: "control-plane", generation: "7" },
            container: { name: "coredns", maybeExecProbe: true },
          },
        },
      },
    }),
    exitEvent: create(GetEventsResponseSchema, {
      event: {
        case: "processExit",
        value: { process: { pid: 42, binary: "/usr/bin/ls" }, signal: "SIGKILL" },
      },
    }),
    rateLimit: create(GetEventsResponseSchema, {
      event: { case: "rateLimitInfo", value: { numberOfDroppedProcessEvents: 3n } },
    }),
    /** A process with capabilities (process credentials enabled). */
    capsExec: exec({
      case: "processExec",
      value: {
        process: {
          pid: 300,
          binary: "/usr/sbin/tcpdump",
          cap: {
            effective: [CapabilitiesType.CAP_NET_RAW, CapabilitiesType.CAP_SYS_ADMIN],
            permitted: [
              CapabilitiesType.CAP_NET_RAW,
              CapabilitiesType.CAP_SYS_ADMIN,
              CapabilitiesType.CAP_CHOWN,
            ],
            inheritable: [],
          },
        },
      },
    }),
    /** An exec that carries Tetragon's ancestors (nearest first). */
    ancestorsExec: exec({
      case: "processExec",
      value: {
        process: { pid: 400, binary: "/usr/bin/id" },
        parent: { pid: 399, binary: "/usr/bin/sh" },
        ancestors: [
          { pid: 398, binary: "/usr/bin/bash" },
          { pid: 1, binary: "/usr/lib/systemd/systemd" },
        ],
      },
    }),
    /** Children of hostExec (pid 42), for pid_set: 100 is its child, 101 its grandchild. */
    childOf42: exec({
      case: "processExec",
      value: { process: { pid: 100, binary: "/usr/bin/sh" }, parent: { pid: 42, binary: "/usr/bin/ls" } },
    }),
    grandchildOf42: exec({
      case: "processExec",
      value: { process: { pid: 101, binary: "/usr/bin/cat" }, parent: { pid: 100, binary: "/usr/bin/sh" } },
    }),
    /** A process whose binary is 36 `a`s: `(a+)+b` backtracks forever on it in a JS regex. */
    aaaExec: exec({ case: "processExec", value: { process: { pid: 500, binary: "a".repeat(36) } } }),
  } satisfies Record<string, GetEventsResponse>;
}

export type FilterEventName = keyof ReturnType<typeof filterEvents>;

export interface FilterCase {
  name: string;
  filter: FilterInit;
  /** Checked in order with one compiled filter (pid_set learns from the events it sees). */
  expect: [event: FilterEventName, matches: boolean][];
}

const digits10 = "[0,1,2,3,4,5,6,7,8,9]";

/** One Filter against events: every field of tetragon.Filter has cases. */
export const filterCases: FilterCase[] = [
  {
    name: "empty filter matches everything",
    filter: {},
    expect: [
      ["seed", true],
      ["hostExec", true],
      ["rateLimit", true],
    ],
  },
  // binary_regex (Go RE2, unanchored MatchString)
  {
    name: "binary_regex is unanchored",
    filter: { binaryRegex: ["nsent"] },
    expect: [
      ["seed", true],
      ["hostExec", false],
      ["rateLimit", false],
    ],
  },
  {
    name: "binary_regex values are ORed",
    filter: { binaryRegex: ["^/usr/bin/ls$", "nsenter"] },
    expect: [
      ["seed", true],
      ["hostExec", true],
      ["exitEvent", true],
      ["probeExec", false],
    ],
  },
  {
    name: "binary_regex RE2 (?i)",
    filter: { binaryRegex: ["(?i)NSENTER"] },
    expect: [
      ["seed", true],
      ["hostExec", false],
    ],
  },
  {
    name: "binary_regex RE2 scoped flag (?i:…) covers only its group",
    filter: { binaryRegex: ["(?i:/USR/BIN/)ls"] },
    expect: [
      ["hostExec", true],
      ["seed", false],
    ],
  },
  {
    name: "binary_regex RE2 [[:alpha:]] is a POSIX class",
    filter: { binaryRegex: ["^/usr/bin/[[:alpha:]]+$"] },
    expect: [
      ["hostExec", true],
      ["seed", true],
      ["probeExec", false],
    ],
  },
  {
    name: "binary_regex RE2 \\z is end of text",
    filter: { binaryRegex: ["probe\\z"] },
    expect: [
      ["probeExec", true],
      ["seed", false],
    ],
  },
  {
    name: "binary_regex RE2 \\pL is a Unicode letter",
    filter: { binaryRegex: ["^[/\\pL_]+$"] },
    expect: [
      ["probeExec", true],
      ["hostExec", true],
      ["aaaExec", true],
    ],
  },
  {
    name: "binary_regex (a+)+b runs in linear time",
    filter: { binaryRegex: ["(a+)+b"] },
    expect: [
      ["aaaExec", false],
      ["seed", false],
    ],
  },
  // namespace
  {
    name: "namespace is exact",
    filter: { namespace: ["default"] },
    expect: [
      ["seed", true],
      ["probeExec", false],
      ["hostExec", false],
      ["rateLimit", false],
    ],
  },
  { name: "namespace prefix does not match", filter: { namespace: ["def"] }, expect: [["seed", false]] },
  {
    name: 'namespace "" selects host processes',
    filter: { namespace: [""] },
    expect: [
      ["hostExec", true],
      ["exitEvent", true],
      ["seed", false],
      ["rateLimit", false],
    ],
  },
  // health_check
  {
    name: "health_check true",
    filter: { healthCheck: true },
    expect: [
      ["probeExec", true],
      ["seed", false],
      ["rateLimit", false],
    ],
  },
  {
    name: "health_check false",
    filter: { healthCheck: false },
    expect: [
      ["seed", true],
      ["hostExec", true],
      ["probeExec", false],
      ["rateLimit", false],
    ],
  },
  // pid
  {
    name: "pid",
    filter: { pid: [42, 63066] },
    expect: [
      ["seed", true],
      ["hostExec", true],
      ["probeExec", false],
      ["rateLimit", false],
    ],
  },
  // pid_set (upstream pkg/filters/pidSet.go)
  {
    name: "pid_set matches the pid and, learned in order, its descendants",
    filter: { pidSet: [42] },
    expect: [
      ["hostExec", true],
      ["childOf42", true],
      ["grandchildOf42", true],
      ["probeExec", false],
      ["rateLimit", false],
    ],
  },
  {
    name: "pid_set learns only from events seen: a grandchild before its parent does not match",
    filter: { pidSet: [42] },
    expect: [
      ["grandchildOf42", false],
      ["childOf42", true],
      ["grandchildOf42", true],
    ],
  },
  // event_set
  {
    name: "event_set compares the oneof number",
    filter: { eventSet: [EventType.PROCESS_KPROBE] },
    expect: [
      ["seed", true],
      ["hostExec", false],
      ["exitEvent", false],
    ],
  },
  {
    name: "event_set matches events without a process",
    filter: { eventSet: [EventType.RATE_LIMIT_INFO] },
    expect: [
      ["rateLimit", true],
      ["seed", false],
    ],
  },
  // regex fields on process, parent and pod
  {
    name: "pod_regex",
    filter: { podRegex: ["^xw"] },
    expect: [
      ["seed", true],
      ["probeExec", false],
      ["hostExec", false],
    ],
  },
  {
    name: "arguments_regex RE2 [[:digit:]]",
    filter: { argumentsRegex: ["=:[[:digit:]]{4}"] },
    expect: [
      ["probeExec", true],
      ["hostExec", false],
    ],
  },
  {
    name: "arguments_regex",
    filter: { argumentsRegex: ["-t 1"] },
    expect: [
      ["seed", true],
      ["hostExec", false],
    ],
  },
  // labels (k8s label selectors)
  {
    name: "labels equality",
    filter: { labels: ["org=alliance"] },
    expect: [
      ["seed", true],
      ["probeExec", false],
      ["hostExec", false],
    ],
  },
  {
    name: "labels never match host events, even negations",
    filter: { labels: ["!org"] },
    expect: [
      ["probeExec", true],
      ["hostExec", false],
      ["seed", false],
    ],
  },
  {
    name: "labels set-based and comma AND",
    filter: { labels: ["k8s-app in (kube-dns, other),tier"] },
    expect: [
      ["probeExec", true],
      ["seed", false],
    ],
  },
  {
    name: "labels values are ORed",
    filter: { labels: ["class=xwing", "tier notin (web)"] },
    expect: [
      ["seed", true],
      ["probeExec", true],
      ["hostExec", false],
    ],
  },
  {
    name: "labels > compares integers",
    filter: { labels: ["generation>5"] },
    expect: [
      ["probeExec", true],
      ["seed", false],
    ],
  },
  {
    name: "labels < compares integers",
    filter: { labels: ["generation<5"] },
    expect: [["probeExec", false]],
  },
  {
    name: "labels > on a label that is not an integer selects nothing",
    filter: { labels: ["tier>1"] },
    expect: [["probeExec", false]],
  },
  // policy_names
  {
    name: "policy_names",
    filter: { policyNames: ["namespace-access"] },
    expect: [
      ["seed", true],
      ["hostExec", false],
      ["rateLimit", false],
    ],
  },
  { name: "policy_names is exact", filter: { policyNames: ["namespace"] }, expect: [["seed", false]] },
  // capabilities (upstream pkg/filters/caps.go)
  {
    name: "capabilities effective any",
    filter: {
      capabilities: { effective: { any: [CapabilitiesType.CAP_SYS_ADMIN, CapabilitiesType.CAP_BPF] } },
    },
    expect: [
      ["capsExec", true],
      ["hostExec", false],
      ["rateLimit", false],
    ],
  },
  {
    name: "capabilities effective all",
    filter: {
      capabilities: { effective: { all: [CapabilitiesType.CAP_SYS_ADMIN, CapabilitiesType.CAP_CHOWN] } },
    },
    expect: [["capsExec", false]],
  },
  {
    name: "capabilities permitted all",
    filter: {
      capabilities: { permitted: { all: [CapabilitiesType.CAP_SYS_ADMIN, CapabilitiesType.CAP_CHOWN] } },
    },
    expect: [["capsExec", true]],
  },
  {
    name: "capabilities exactly is set equality",
    filter: {
      capabilities: {
        effective: { exactly: [CapabilitiesType.CAP_SYS_ADMIN, CapabilitiesType.CAP_NET_RAW] },
      },
    },
    expect: [["capsExec", true]],
  },
  {
    name: "capabilities exactly fails on a superset",
    filter: {
      capabilities: {
        permitted: { exactly: [CapabilitiesType.CAP_SYS_ADMIN, CapabilitiesType.CAP_NET_RAW] },
      },
    },
    expect: [["capsExec", false]],
  },
  {
    name: "capabilities none, and the sets are ANDed",
    filter: {
      capabilities: {
        inheritable: { none: [CapabilitiesType.CAP_SYS_ADMIN] },
        effective: { any: [CapabilitiesType.CAP_NET_RAW] },
      },
    },
    expect: [["capsExec", true]],
  },
  {
    name: "capabilities AND fails when one set misses",
    filter: {
      capabilities: {
        inheritable: { none: [CapabilitiesType.CAP_SYS_ADMIN] },
        effective: { none: [CapabilitiesType.CAP_NET_RAW] },
      },
    },
    expect: [["capsExec", false]],
  },
  // parent
  {
    name: "parent_binary_regex",
    filter: { parentBinaryRegex: ["bash$"] },
    expect: [
      ["seed", true],
      ["hostExec", false],
      ["probeExec", false],
    ],
  },
  {
    name: "parent_arguments_regex",
    filter: { parentArgumentsRegex: ["--system"] },
    expect: [
      ["hostExec", true],
      ["seed", false],
    ],
  },
  // cel_expression (upstream pkg/filters/cel_expression.go)
  {
    name: "cel_expression on process_exec",
    filter: { celExpression: ['process_exec.process.binary == "/usr/bin/ls"'] },
    expect: [
      ["hostExec", true],
      ["probeExec", false],
      ["seed", false],
    ],
  },
  {
    name: "cel_expression runs only on the event kinds it names",
    filter: { celExpression: ["true"] },
    expect: [
      ["hostExec", false],
      ["rateLimit", false],
    ],
  },
  {
    name: "cel_expression over two kinds, with wrappers as uint",
    filter: { celExpression: ["process_exec.process.pid == 42u || process_kprobe.process.pid > 60000u"] },
    expect: [
      ["hostExec", true],
      ["seed", true],
      ["probeExec", false],
    ],
  },
  {
    name: "cel_expression macros, maps and enums",
    filter: {
      celExpression: [
        "process_kprobe.args.exists(a, a.int_arg == 3) && process_kprobe.action == tetragon.KprobeAction.KPROBE_ACTION_POST",
        'process_exec.process.pod.pod_labels["k8s-app"] == "kube-dns"',
      ],
    },
    expect: [
      ["seed", true],
      ["probeExec", true],
      // A missing map key is an evaluation error: no match.
      ["hostExec", false],
    ],
  },
  {
    name: "cel_expression matches() is Go RE2",
    filter: { celExpression: ['process_exec.process.binary.matches("^/[[:alpha:]]+/\\\\pL+_health")'] },
    expect: [
      ["probeExec", true],
      ["hostExec", false],
    ],
  },
  {
    name: "cel_expression matches() is linear too: (a+)+b on 36 a's",
    filter: {
      celExpression: [
        'process_exec.process.binary.matches("(a+)+b")',
        'process_exec.process.binary.matches("^a{36}$")',
      ],
    },
    expect: [
      ["aaaExec", true],
      ["hostExec", false],
    ],
  },
  {
    name: "cel_expression over its iteration budget does not match",
    filter: {
      celExpression: [
        `${digits10}.all(a, ${digits10}.all(b, ${digits10}.all(c, ${digits10}.all(d, true)))) && process_exec.process.pid > 0u`,
      ],
    },
    expect: [["hostExec", false]],
  },
  {
    name: "cel_expression within the budget matches",
    filter: {
      celExpression: [`${digits10}.all(a, ${digits10}.all(b, a >= 0)) && process_exec.process.pid > 0u`],
    },
    expect: [["hostExec", true]],
  },
  // container and tree
  {
    name: "container_id is a regex on process.docker",
    filter: { containerId: ["^057dc8"] },
    expect: [
      ["seed", true],
      ["hostExec", false],
      ["probeExec", false],
    ],
  },
  {
    name: "in_init_tree true",
    filter: { inInitTree: true },
    expect: [
      ["hostExec", true],
      ["seed", false],
      ["rateLimit", false],
    ],
  },
  {
    name: "in_init_tree false counts a missing value as false",
    filter: { inInitTree: false },
    expect: [
      ["seed", true],
      ["probeExec", true],
      ["hostExec", false],
      ["rateLimit", false],
    ],
  },
  {
    name: "ancestor_binary_regex matches any ancestor",
    filter: { ancestorBinaryRegex: ["systemd$"] },
    expect: [
      ["ancestorsExec", true],
      ["hostExec", false],
      ["rateLimit", false],
    ],
  },
  {
    name: "container_name_regex",
    filter: { containerNameRegex: ["ship"] },
    expect: [
      ["seed", true],
      ["probeExec", false],
      ["hostExec", false],
    ],
  },
  {
    name: "namespace_regex",
    filter: { namespaceRegex: ["^kube-"] },
    expect: [
      ["probeExec", true],
      ["seed", false],
      ["hostExec", false],
    ],
  },
  // combination
  {
    name: "set fields are ANDed",
    filter: { namespace: ["default"], binaryRegex: ["nsenter"], eventSet: [EventType.PROCESS_KPROBE] },
    expect: [
      ["seed", true],
      ["hostExec", false],
      ["probeExec", false],
    ],
  },
  {
    name: "AND fails when one field misses",
    filter: { namespace: ["default"], binaryRegex: ["bash"] },
    expect: [["seed", false]],
  },
];

/** Invalid filters: each is a FilterError naming `field` (the server's InvalidArgument). */
export const invalidFilterCases: [field: string, filter: FilterInit][] = [
  ["binary_regex", { binaryRegex: ["("] }],
  ["binary_regex", { binaryRegex: ["a(?=b)"] }],
  ["binary_regex", { binaryRegex: ["(a)\\1"] }],
  ["pod_regex", { podRegex: ["[a-"] }],
  ["arguments_regex", { argumentsRegex: ["a**"] }],
  ["parent_binary_regex", { parentBinaryRegex: ["(?<!x)y"] }],
  ["parent_arguments_regex", { parentArgumentsRegex: ["*x"] }],
  ["ancestor_binary_regex", { ancestorBinaryRegex: ["[[:nope:]]"] }],
  ["container_id", { containerId: ["\\"] }],
  ["container_name_regex", { containerNameRegex: ["(?"] }],
  ["namespace_regex", { namespaceRegex: ["x{2,1}"] }],
  ["labels", { labels: ["k in (a"] }],
  ["labels", { labels: ["a,,b"] }],
  ["labels", { labels: ["bad key!=x"] }],
  ["labels", { labels: ["generation>x"] }],
  ["labels", { labels: ["generation<1.5"] }],
  ["capabilities.effective", { capabilities: { effective: {} } }],
  [
    "capabilities.permitted",
    { capabilities: { permitted: { any: [CapabilitiesType.CAP_BPF], none: [CapabilitiesType.CAP_CHOWN] } } },
  ],
  ["cel_expression", { celExpression: ["process_exec.process.binary =="] }],
  ["cel_expression", { celExpression: ['process_exec.process.binery == "x"'] }],
  ["cel_expression", { celExpression: ["1 + 1"] }],
  ["cel_expression", { celExpression: ["nope == 1"] }],
  ["cel_expression", { celExpression: ["process_exec.process.binary.frobnicate()"] }],
  ["cel_expression", { celExpression: [`process_exec.process.pid > 0u${" ".repeat(5000)}`] }],
];

export interface FieldFilterCase {
  name: string;
  fieldFilters: FieldFilterInit[];
  event: FilterEventName;
  /** The whole event as protojson (`toJsonLine`) after the field filters. */
  json: unknown;
}

/** GetEventsRequest.field_filters: every FieldFilter case (upstream pkg/fieldfilters). */
export const fieldFilterCases: FieldFilterCase[] = [
  {
    name: "INCLUDE keeps only the listed paths of the inner event and all top-level fields",
    fieldFilters: [
      { action: FieldFilterAction.INCLUDE, fields: { paths: ["process.binary", "parent.pid"] } },
    ],
    event: "hostExec",
    json: { process_exec: { process: { binary: "/usr/bin/ls" }, parent: { pid: 1 } }, node_name: "node-a" },
  },
  {
    name: "INCLUDE of a whole sub-message keeps all of it",
    fieldFilters: [{ action: FieldFilterAction.INCLUDE, fields: { paths: ["parent", "parent.pid"] } }],
    event: "hostExec",
    json: {
      process_exec: { parent: { pid: 1, binary: "/usr/lib/systemd/systemd", arguments: "--system" } },
      node_name: "node-a",
    },
  },
  {
    name: "EXCLUDE removes paths, through map keys",
    fieldFilters: [
      {
        action: FieldFilterAction.EXCLUDE,
        fields: { paths: ["process.pod.pod_labels.tier", "process.pod.container"] },
      },
    ],
    event: "probeExec",
    json: {
      process_exec: {
        process: {
          pid: 77,
          binary: "/bin/grpc_health_probe",
          arguments: "-addr=:8080",
          docker: "abcdef0123456789abcdef012345678",
          pod: {
            namespace: "kube-system",
            name: "coredns-5d78c9869d-abcde",
            pod_labels: { "k8s-app": "kube-dns", generation: "7" },
          },
        },
      },
      node_name: "node-a",
    },
  },
  {
    name: "EXCLUDE through a repeated message",
    fieldFilters: [
      { action: FieldFilterAction.EXCLUDE, fields: { paths: ["ancestors.pid", "process", "parent"] } },
    ],
    event: "ancestorsExec",
    json: {
      process_exec: { ancestors: [{ binary: "/usr/bin/bash" }, { binary: "/usr/lib/systemd/systemd" }] },
      node_name: "node-a",
    },
  },
  {
    name: "INCLUDE inside a oneof keeps the selected member",
    fieldFilters: [{ action: FieldFilterAction.INCLUDE, fields: { paths: ["args.int_arg"] } }],
    event: "seed",
    json: {
      process_kprobe: { args: [{ int_arg: 3 }, { int_arg: 134217728 }] },
      node_name: "tetragon-dev-control-plane",
      time: "2026-01-30T18:15:20.001042828Z",
    },
  },
  {
    name: "filters run in order, so exclusion wins",
    fieldFilters: [
      { action: FieldFilterAction.INCLUDE, fields: { paths: ["process"] } },
      { action: FieldFilterAction.EXCLUDE, fields: { paths: ["process.arguments", "process.in_init_tree"] } },
    ],
    event: "hostExec",
    json: { process_exec: { process: { pid: 42, binary: "/usr/bin/ls" } }, node_name: "node-a" },
  },
  {
    name: "event_set limits the filter to those types (applies)",
    fieldFilters: [
      {
        eventSet: [EventType.PROCESS_EXEC],
        action: FieldFilterAction.EXCLUDE,
        fields: { paths: ["parent"] },
      },
    ],
    event: "childOf42",
    json: { process_exec: { process: { pid: 100, binary: "/usr/bin/sh" } }, node_name: "node-a" },
  },
  {
    name: "event_set limits the filter to those types (other type untouched)",
    fieldFilters: [
      {
        eventSet: [EventType.PROCESS_EXIT],
        action: FieldFilterAction.EXCLUDE,
        fields: { paths: ["parent"] },
      },
    ],
    event: "childOf42",
    json: {
      process_exec: {
        process: { pid: 100, binary: "/usr/bin/sh" },
        parent: { pid: 42, binary: "/usr/bin/ls" },
      },
      node_name: "node-a",
    },
  },
  {
    name: "invert_event_set applies the filter to every type except those listed",
    fieldFilters: [
      {
        eventSet: [EventType.PROCESS_KPROBE],
        invertEventSet: true,
        action: FieldFilterAction.EXCLUDE,
        fields: { paths: ["parent"] },
      },
    ],
    event: "childOf42",
    json: { process_exec: { process: { pid: 100, binary: "/usr/bin/sh" } }, node_name: "node-a" },
  },
  {
    name: "invert_event_set leaves the listed types alone",
    fieldFilters: [
      {
        eventSet: [EventType.PROCESS_EXEC],
        invertEventSet: true,
        action: FieldFilterAction.EXCLUDE,
        fields: { paths: ["parent"] },
      },
    ],
    event: "childOf42",
    json: {
      process_exec: {
        process: { pid: 100, binary: "/usr/bin/sh" },
        parent: { pid: 42, binary: "/usr/bin/ls" },
      },
      node_name: "node-a",
    },
  },
  {
    name: "a filter with no paths changes nothing",
    fieldFilters: [{ action: FieldFilterAction.INCLUDE }],
    event: "exitEvent",
    json: { process_exit: { process: { pid: 42, binary: "/usr/bin/ls" }, signal: "SIGKILL" } },
  },
  {
    name: "a path that exists only in some selected types is accepted and skips the others",
    fieldFilters: [{ action: FieldFilterAction.EXCLUDE, fields: { paths: ["function_name", "signal"] } }],
    event: "exitEvent",
    json: { process_exit: { process: { pid: 42, binary: "/usr/bin/ls" } } },
  },
];

/** Field filter paths that are refused (FilterError on `field_filters`). */
export const invalidFieldFilterPaths = [
  "process.binery",
  "process..pid",
  "",
  "node_name",
  "process.binary.length",
];
