// SPDX-License-Identifier: Apache-2.0

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseTracingPolicy } from "./parse-tracing-policy.js";
import { isPolicyError, PolicyError } from "./policy-error.js";
import {
  DENY_NAMESPACE_ACCESS_FILE,
  DENY_NAMESPACE_ACCESS_POLICY,
  NAMESPACE_ACCESS_FILE,
  NAMESPACE_ACCESS_POLICY,
} from "./testing/seed-policies.js";

/** A cluster policy named "test" whose spec is `specLines`; spec line n is file line n + 5. */
function policyWithSpec(...specLines: string[]): string {
  return [
    "apiVersion: cilium.io/v1alpha1",
    "kind: TracingPolicy",
    "metadata:",
    "  name: test",
    "spec:",
    ...specLines.map((l) => `  ${l}`),
    "",
  ].join("\n");
}

/** A policy with one setns kprobe whose extra fields are `kprobeLines`; kprobe line n is file line n + 7. */
function setnsWith(...kprobeLines: string[]): string {
  return policyWithSpec("kprobes:", "- call: sys_setns", ...kprobeLines.map((l) => `  ${l}`));
}

function parseError(text: string, source = "p.yaml"): PolicyError {
  try {
    parseTracingPolicy(text, source);
  } catch (error) {
    if (error instanceof PolicyError) return error;
    throw error;
  }
  throw new Error("expected a PolicyError");
}

describe("parseTracingPolicy: the seed policies", () => {
  it.each([
    ["namespace-access.yaml", NAMESPACE_ACCESS_FILE, NAMESPACE_ACCESS_POLICY],
    ["deny-namespace-access.yaml", DENY_NAMESPACE_ACCESS_FILE, DENY_NAMESPACE_ACCESS_POLICY],
  ])("%s parses unchanged into the typed policy", (_name, file, expected) => {
    expect(parseTracingPolicy(readFileSync(file, "utf8"), file)).toStrictEqual(expected);
  });
});

describe("parseTracingPolicy: CRD defaults", () => {
  it("fills kprobe, arg and selector defaults", () => {
    const policy = parseTracingPolicy(
      setnsWith(
        "args:",
        "- index: 3",
        "selectors:",
        "- matchPIDs:",
        "  - operator: In",
        "    values: [42]",
        "  matchBinaries:",
        "  - operator: In",
        "    values: [/usr/bin/nsenter]",
        "  matchCapabilities:",
        "  - operator: In",
        "    values: [CAP_SYS_ADMIN]",
      ),
    );
    expect(policy.spec.kprobes).toStrictEqual([
      {
        call: "sys_setns",
        syscall: true,
        return: false,
        args: [{ index: 3, type: "auto", resolve: "", returnCopy: false, maxData: false }],
        selectors: [
          {
            matchPIDs: [{ operator: "In", values: [42], isNamespacePID: false, followForks: false }],
            matchBinaries: [{ operator: "In", values: ["/usr/bin/nsenter"], followChildren: false }],
            matchCapabilities: [
              { type: "Effective", operator: "In", isNamespaceCapability: false, values: ["CAP_SYS_ADMIN"] },
            ],
          },
        ],
      },
    ]);
  });

  it("keeps an explicit syscall: false and treats null fields as absent", () => {
    const policy = parseTracingPolicy(
      policyWithSpec(
        "kprobes:",
        "- call: fd_install",
        "  syscall: false",
        "  args: ~",
        "  selectors:",
        "tracepoints:",
      ),
    );
    expect(policy.spec).toStrictEqual({ kprobes: [{ call: "fd_install", syscall: false, return: false }] });
  });

  it("reads YAML 1.1 booleans the way Tetragon's go-yaml does", () => {
    const policy = parseTracingPolicy(setnsWith("syscall: yes", "return: off"));
    expect(policy.spec.kprobes?.[0]).toMatchObject({ syscall: true, return: false });
  });
});

describe("parseTracingPolicy: canonical spellings", () => {
  it("accepts actions in any case", () => {
    const policy = parseTracingPolicy(
      setnsWith(
        "selectors:",
        "- matchActions: [{action: sigkill}, {action: POST}]",
        "- matchActions: [{action: nopost}]",
      ),
    );
    expect(
      policy.spec.kprobes?.[0]?.selectors?.map((s) => s.matchActions?.map((a) => a.action)),
    ).toStrictEqual([["Sigkill", "Post"], ["NoPost"]]);
  });

  it("maps Tetragon's matchArgs operator aliases to the CRD spelling", () => {
    const operators = [
      "eq",
      "neq",
      "gt",
      "GreaterThan",
      "lt",
      "prefix",
      "notpostfix",
      "mask",
      "NotSPortPriv",
      "sport",
    ];
    const matchArgs = (ops: string[]) =>
      `- matchArgs: [${ops.map((op) => `{index: 1, operator: ${op}}`).join(", ")}]`;
    const policy = parseTracingPolicy(
      setnsWith("selectors:", matchArgs(operators.slice(0, 5)), matchArgs(operators.slice(5))),
    );
    expect(
      policy.spec.kprobes?.[0]?.selectors?.flatMap((s) => s.matchArgs?.map((m) => m.operator)),
    ).toStrictEqual([
      "Equal",
      "NotEqual",
      "GT",
      "GreaterThan",
      "LT",
      "Prefix",
      "NotPostfix",
      "Mask",
      "NotSportPriv",
      "SPort",
    ]);
  });

  it("matches namespace names case-insensitively and canonicalises capabilities", () => {
    const policy = parseTracingPolicy(
      setnsWith(
        "selectors:",
        "- matchNamespaces:",
        "  - {namespace: net, operator: NotIn, values: [host_ns, '4026531840']}",
        "  matchNamespaceChanges:",
        "  - {operator: In, values: [mnt, PIDFORCHILDREN]}",
        "  matchCapabilities:",
        "  - {type: Permitted, operator: NotIn, values: [' cap_sys_admin', CAP_DAC_OVERRIDE]}",
      ),
    );
    expect(policy.spec.kprobes?.[0]?.selectors?.[0]).toStrictEqual({
      matchNamespaces: [{ namespace: "Net", operator: "NotIn", values: ["host_ns", "4026531840"] }],
      matchNamespaceChanges: [{ operator: "In", values: ["Mnt", "PidForChildren"] }],
      matchCapabilities: [
        {
          type: "Permitted",
          operator: "NotIn",
          isNamespaceCapability: false,
          values: ["CAP_SYS_ADMIN", "DAC_OVERRIDE"],
        },
      ],
    });
  });

  it("turns scalars written where a string belongs into strings, as sigs.k8s.io/yaml does", () => {
    const policy = parseTracingPolicy(
      setnsWith(
        "selectors:",
        "- matchArgs: [{index: 1, operator: Equal, values: [0, 0x10, 1000:2000, true, '007']}]",
      ),
    );
    expect(policy.spec.kprobes?.[0]?.selectors?.[0]?.matchArgs?.[0]?.values).toStrictEqual([
      "0",
      "16",
      "1000:2000",
      "true",
      "007",
    ]);
  });
});

describe("parseTracingPolicy: the whole spec surface", () => {
  it("accepts every section Tetragon defines", () => {
    const text = [
      "apiVersion: cilium.io/v1alpha1",
      "kind: TracingPolicyNamespaced",
      "metadata:",
      "  name: everything.example",
      "  namespace: team-a",
      "  labels: {app: nsguard}",
      "  annotations: {note: yes}",
      "  uid: 0b9c",
      "  resourceVersion: '12'",
      "  generation: 3",
      "  creationTimestamp: 2026-01-30T18:15:19Z",
      "spec:",
      "  loader: true",
      "  options: [{name: policy-mode, value: monitor}, {name: disable-kprobe-multi, value: 'true'}]",
      "  lists: [{name: escapes, type: syscalls, values: [sys_setns, sys_unshare]}]",
      "  enforcers: [{calls: [list:escapes]}]",
      "  state: [{name: seen}]",
      "  podSelector: {matchLabels: {app: web}, matchExpressions: [{key: tier, operator: In, values: [front]}]}",
      "  containerSelector: {matchExpressions: [{key: name, operator: Exists}]}",
      "  nodeSelector: {matchLabels: {kubernetes.io/arch: amd64}}",
      "  selectorsMacros:",
      "    not-init: {matchPIDs: [{operator: NotIn, values: [1], isNamespacePID: true}]}",
      "  kprobes:",
      "  - call: list:escapes",
      "    message: namespace change",
      "    tags: [escape, T1611]",
      "    ignore: {callNotFound: true}",
      "    return: true",
      "    returnArg: {index: 0, type: int}",
      "    returnArgAction: tracksock",
      "    data: [{index: 0, type: string, source: current_task, resolve: comm}]",
      "    args: [{index: 1, type: char_buf, sizeArgIndex: 3, returnCopy: true, maxData: true, label: buf, btfType: foo, btfTypeModule: bar}]",
      "    selectors:",
      "    - label: all-filters",
      "      macros: [not-init]",
      "      matchData: [{args: [0], operator: Prefix, values: [bash]}]",
      "      matchReturnArgs: [{index: 0, operator: Equal, values: ['0']}]",
      "      matchReturnActions: [{action: Post}]",
      "      matchParentBinaries: [{operator: Prefix, values: [/usr/bin/]}]",
      "      matchCapabilityChanges: [{operator: In, values: [CAP_SYS_ADMIN], isNamespaceCapability: true}]",
      "      matchCEL: {expr: 'arg0 > 0'}",
      "      matchCmdArgs: [{index: 0, operator: Equal, values: [-t]}]",
      "      matchStates: [{name: seen, operator: Equal, value: x}]",
      "      matchUserCallers: [{depth: any, symbol: main}]",
      "      matchWorkloads: {podSelector: {matchLabels: {a: b}}, hostSelector: {}}",
      "      matchActions:",
      "      - {action: Post, rateLimit: 5m, rateLimitScope: process, kernelStackTrace: true, userStackTrace: false, imaHash: false}",
      "      - {action: Signal, argSig: 15}",
      "      - {action: Override, argError: -1}",
      "      - {action: GetUrl, argUrl: 'http://x'}",
      "      - {action: DnsLookup, argFqdn: x.example}",
      "      - {action: UpdateState, stateName: seen, stateUpdateOperator: Set, stateNewValue: '1'}",
      "  fentries: [{call: do_sys_open, syscall: false}]",
      "  tracepoints: [{subsystem: syscalls, event: sys_enter_setns, raw: true, args: [{index: 5}]}]",
      "  lsmhooks: [{hook: file_open, args: [{index: 0, type: file}]}]",
      "  uprobes: [{path: /bin/bash, symbols: [readline], return: true, returnArg: {index: 0, type: string}, ignore: {digestVerificationFailure: true}}]",
      "  usdts: [{path: /usr/bin/node, provider: node, name: gc__start, btfPath: /tmp/btf}]",
      "",
    ].join("\n");
    const policy = parseTracingPolicy(text);
    expect(policy.kind).toBe("TracingPolicyNamespaced");
    expect(policy.metadata).toStrictEqual({
      name: "everything.example",
      namespace: "team-a",
      labels: { app: "nsguard" },
      annotations: { note: "true" },
      uid: "0b9c",
      resourceVersion: "12",
      generation: 3,
      creationTimestamp: "2026-01-30T18:15:19Z",
    });
    expect(Object.keys(policy.spec).sort()).toStrictEqual(
      [
        "containerSelector",
        "enforcers",
        "fentries",
        "kprobes",
        "lists",
        "loader",
        "lsmhooks",
        "nodeSelector",
        "options",
        "podSelector",
        "selectorsMacros",
        "state",
        "tracepoints",
        "uprobes",
        "usdts",
      ].sort(),
    );
    const kprobe = policy.spec.kprobes?.[0];
    expect(kprobe?.returnArgAction).toBe("TrackSock");
    expect(kprobe?.args?.[0]).toStrictEqual({
      index: 1,
      type: "char_buf",
      resolve: "",
      returnCopy: true,
      maxData: true,
      sizeArgIndex: 3,
      label: "buf",
      btfType: "foo",
      btfTypeModule: "bar",
    });
    expect(kprobe?.selectors?.[0]?.matchActions?.map((a) => a.action)).toStrictEqual([
      "Post",
      "Signal",
      "Override",
      "GetUrl",
      "DnsLookup",
      "UpdateState",
    ]);
    expect(policy.spec.tracepoints?.[0]?.args?.[0]?.type).toBe("auto");
    expect(policy.spec.uprobes?.[0]?.return).toBe(true);
    expect(policy.spec.selectorsMacros?.["not-init"]?.matchPIDs?.[0]?.isNamespacePID).toBe(true);
  });
});

describe("parseTracingPolicy: errors", () => {
  // Each message is the complete one-line diagnostic, so a wrong path, position or wording fails.
  it.each([
    ["empty file", "", "p.yaml: the file is empty; expected a TracingPolicy document"],
    ["comments only", "# nothing here\n", "p.yaml: the file is empty; expected a TracingPolicy document"],
    [
      "a list at the top level",
      "- a\n",
      "p.yaml:1:1: expected a TracingPolicy object at the top level, got a list",
    ],
    [
      "a scalar at the top level",
      "hello\n",
      'p.yaml:1:1: expected a TracingPolicy object at the top level, got "hello"',
    ],
    [
      "YAML syntax",
      "metadata: [a,\nspec: x\n",
      "p.yaml:2:1: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]",
    ],
    [
      "duplicate keys",
      "kind: a\nkind: b\n",
      'p.yaml:2:1: kind: duplicate key "kind" (already set at line 1, column 1)',
    ],
    [
      "duplicate keys deep inside, named by their field path",
      setnsWith("args:", "- index: 0", "  type: int", "  index: 1"),
      'p.yaml:11:7: spec.kprobes[0].args[0].index: duplicate key "index" (already set at line 9, column 7)',
    ],
    [
      "duplicate free-form keys (labels)",
      "apiVersion: cilium.io/v1alpha1\nkind: TracingPolicy\nmetadata:\n  name: a\n  labels: {app: x, app: y}\nspec: {}\n",
      'p.yaml:5:20: metadata.labels.app: duplicate key "app" (already set at line 5, column 12)',
    ],
    ["tabs", "spec:\n\tkprobes: []\n", "p.yaml:2:1: invalid YAML: Tabs are not allowed as indentation"],
    [
      "two documents",
      `${policyWithSpec("kprobes: []")}---\n${policyWithSpec("kprobes: []")}`,
      "p.yaml:8:1: found 2 YAML documents; a policy file must hold exactly one (put each policy in its own file)",
    ],
    ["missing apiVersion", "kind: TracingPolicy\n", "p.yaml:1:1: apiVersion: required field is missing"],
    [
      "wrong apiVersion",
      "apiVersion: cilium.io/v1\nkind: TracingPolicy\n",
      'p.yaml:1:13: apiVersion: unsupported apiVersion "cilium.io/v1"; expected cilium.io/v1alpha1',
    ],
    [
      "wrong kind",
      "apiVersion: cilium.io/v1alpha1\nkind: tracingpolicy\n",
      'p.yaml:2:7: kind: unknown kind "tracingpolicy" (did you mean "TracingPolicy"?); expected one of TracingPolicy, TracingPolicyNamespaced',
    ],
    [
      "unknown top-level field",
      `${policyWithSpec("kprobes: []")}status: {}\n`,
      'p.yaml:7:1: status: unknown field "status"',
    ],
    [
      "missing metadata",
      "apiVersion: cilium.io/v1alpha1\nkind: TracingPolicy\nspec: {}\n",
      "p.yaml:1:1: metadata: required field is missing",
    ],
    [
      "missing name",
      "apiVersion: cilium.io/v1alpha1\nkind: TracingPolicy\nmetadata:\n  labels: {a: b}\nspec: {}\n",
      "p.yaml:4:3: metadata.name: required field is missing",
    ],
    [
      "name not a DNS subdomain",
      'apiVersion: cilium.io/v1alpha1\nkind: TracingPolicy\nmetadata:\n  name: "Namespace_Access"\nspec: {}\n',
      `p.yaml:4:9: metadata.name: invalid name "Namespace_Access": must be a lowercase RFC 1123 subdomain: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit`,
    ],
    [
      "namespace on a cluster-wide policy",
      "apiVersion: cilium.io/v1alpha1\nkind: TracingPolicy\nmetadata:\n  name: a\n  namespace: default\nspec: {}\n",
      "p.yaml:5:14: metadata.namespace: a TracingPolicy is cluster-wide and has no namespace; use kind TracingPolicyNamespaced to scope a policy to one",
    ],
    [
      "namespaced policy without namespace",
      "apiVersion: cilium.io/v1alpha1\nkind: TracingPolicyNamespaced\nmetadata:\n  name: a\nspec: {}\n",
      "p.yaml:4:3: metadata.namespace: required field is missing",
    ],
    [
      "unknown metadata field",
      "apiVersion: cilium.io/v1alpha1\nkind: TracingPolicy\nmetadata:\n  name: a\n  nmae: b\nspec: {}\n",
      'p.yaml:5:3: metadata.nmae: unknown field "nmae" (did you mean "name"?)',
    ],
    [
      "missing spec",
      "apiVersion: cilium.io/v1alpha1\nkind: TracingPolicy\nmetadata:\n  name: a\n",
      "p.yaml:1:1: spec: required field is missing",
    ],
    [
      "null spec",
      "apiVersion: cilium.io/v1alpha1\nkind: TracingPolicy\nmetadata:\n  name: a\nspec:\n",
      "p.yaml:1:1: spec: required field is missing",
    ],
    ["spec is a list", policyWithSpec("- kprobes"), "p.yaml:6:3: spec: expected an object, got a list"],
    [
      "unknown spec field",
      policyWithSpec("kprobe: []"),
      'p.yaml:6:3: spec.kprobe: unknown field "kprobe" (did you mean "kprobes"?)',
    ],
    [
      "merge keys are not fields",
      policyWithSpec("<<: {kprobes: []}"),
      'p.yaml:6:3: spec["<<"]: unknown field "<<"',
    ],
    [
      "missing call",
      policyWithSpec("kprobes:", "- syscall: true"),
      "p.yaml:7:5: spec.kprobes[0].call: required field is missing",
    ],
    [
      "string where a boolean belongs",
      setnsWith('syscall: "true"'),
      'p.yaml:8:14: spec.kprobes[0].syscall: expected a boolean (true or false), got "true"',
    ],
    [
      "list where a list of args belongs",
      setnsWith("args: int"),
      'p.yaml:8:11: spec.kprobes[0].args: expected a list, got "int"',
    ],
    [
      "quoted number where an integer belongs",
      setnsWith("args:", '- index: "0"'),
      'p.yaml:9:14: spec.kprobes[0].args[0].index: expected an integer, got "0"',
    ],
    [
      "negative index",
      setnsWith("args:", "- index: -1"),
      "p.yaml:9:14: spec.kprobes[0].args[0].index: -1 is out of range (0..4294967295)",
    ],
    [
      "fractional index",
      setnsWith("args:", "- index: 1.5"),
      "p.yaml:9:14: spec.kprobes[0].args[0].index: expected an integer, got 1.5",
    ],
    [
      "unknown argument type",
      setnsWith("args:", "- index: 0", '  type: "inty"'),
      'p.yaml:10:13: spec.kprobes[0].args[0].type: unknown type "inty" (did you mean "int"?); expected one of auto, int, sint8, int8, uint8, sint16, int16, uint16, uint32, sint32, int32, ulong, uint64, size_t, long, sint64, int64, char_buf, char_iovec, skb, sock, sockaddr, socket, sockaddr_un, string, fd, file, filename, path, nop, bpf_attr, perf_event, bpf_map, user_namespace, capability, kiocb, iov_iter, cred, const_buf, load_info, module, syscall64, kernel_cap_t, cap_inheritable, cap_permitted, cap_effective, linux_binprm, data_loc, net_device, bpf_cmd, dentry, bpf_prog',
    ],
    [
      "misspelt selector field, at any depth",
      setnsWith("selectors:", "- matchPIDs:", "  - operator: In", "    followforks: true", "    values: [1]"),
      'p.yaml:11:9: spec.kprobes[0].selectors[0].matchPIDs[0].followforks: unknown field "followforks" (did you mean "followForks"?)',
    ],
    [
      "matchPIDs operator is exact",
      setnsWith("selectors:", "- matchPIDs:", "  - operator: notin", "    values: [1]"),
      'p.yaml:10:19: spec.kprobes[0].selectors[0].matchPIDs[0].operator: unknown operator "notin" (did you mean "NotIn"?); expected one of In, NotIn',
    ],
    [
      "matchPIDs without values",
      setnsWith("selectors:", "- matchPIDs:", "  - operator: In"),
      "p.yaml:10:9: spec.kprobes[0].selectors[0].matchPIDs[0].values: required field is missing",
    ],
    [
      "more than 4 PIDs",
      setnsWith("selectors:", "- matchPIDs:", "  - operator: In", "    values: [1, 2, 3, 4, 5]"),
      "p.yaml:11:17: spec.kprobes[0].selectors[0].matchPIDs[0].values: has 5 PIDs, at most 4 allowed in one matchPIDs entry",
    ],
    [
      "PID not a number",
      setnsWith("selectors:", "- matchPIDs:", "  - operator: In", "    values: [pid1]"),
      'p.yaml:11:18: spec.kprobes[0].selectors[0].matchPIDs[0].values[0]: expected an integer, got "pid1"',
    ],
    [
      "unknown matchArgs operator",
      setnsWith("selectors:", "- matchArgs: [{index: 0, operator: Equals, values: ['1']}]"),
      'p.yaml:9:40: spec.kprobes[0].selectors[0].matchArgs[0].operator: unknown operator "Equals" (did you mean "Equal"?); expected one of Equal, NotEqual, Prefix, NotPrefix, Postfix, NotPostfix, GreaterThan, LessThan, GT, LT, Mask, SPort, NotSPort, SPortPriv, NotSportPriv, DPort, NotDPort, DPortPriv, NotDPortPriv, SAddr, NotSAddr, DAddr, NotDAddr, Protocol, Family, State, InMap, NotInMap, CapabilitiesGained, InRange, NotInRange, SubString, SubStringIgnCase, CelExpr, FileType, NotFileType',
    ],
    [
      "unknown action",
      setnsWith("selectors:", "- matchActions: [{action: Kill}]"),
      'p.yaml:9:31: spec.kprobes[0].selectors[0].matchActions[0].action: unknown action "Kill"; expected one of Post, Sigkill, Override, GetUrl, DnsLookup, NoPost, Signal, TrackSock, UntrackSock, NotifyEnforcer, CleanupEnforcerNotification, Set, UpdateState',
    ],
    [
      "removed action",
      setnsWith("selectors:", "- matchActions: [{action: followfd}]"),
      "p.yaml:9:31: spec.kprobes[0].selectors[0].matchActions[0].action: action FollowFD was removed from Tetragon (deprecated as unsafe)",
    ],
    [
      "action without action",
      setnsWith("selectors:", "- matchActions: [{argSig: 9}]"),
      "p.yaml:9:22: spec.kprobes[0].selectors[0].matchActions[0].action: required field is missing",
    ],
    [
      "bad rate limit",
      setnsWith("selectors:", "- matchActions: [{action: Post, rateLimit: 5 minutes}]"),
      'p.yaml:9:48: spec.kprobes[0].selectors[0].matchActions[0].rateLimit: invalid rate limit "5 minutes"; expected a number of seconds, optionally with an s, m or h suffix',
    ],
    [
      "unknown namespace name",
      setnsWith("selectors:", "- matchNamespaceChanges: [{operator: In, values: [Network]}]"),
      'p.yaml:9:55: spec.kprobes[0].selectors[0].matchNamespaceChanges[0].values[0]: unknown namespace "Network"; expected one of Uts, Ipc, Mnt, Pid, PidForChildren, Net, Time, TimeForChildren, Cgroup, User',
    ],
    [
      "namespace value neither inode nor host_ns",
      setnsWith("selectors:", "- matchNamespaces: [{namespace: Pid, operator: In, values: [host]}]"),
      'p.yaml:9:65: spec.kprobes[0].selectors[0].matchNamespaces[0].values[0]: invalid namespace "host"; expected an inode number or host_ns',
    ],
    [
      "unknown capability",
      setnsWith("selectors:", "- matchCapabilities: [{operator: In, values: [CAP_SYS_ADMN]}]"),
      'p.yaml:9:51: spec.kprobes[0].selectors[0].matchCapabilities[0].values[0]: unknown capability "CAP_SYS_ADMN" (did you mean "CAP_SYS_ADMIN"?); expected one of CAP_CHOWN, DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_FSETID, CAP_KILL, CAP_SETGID, CAP_SETUID, CAP_SETPCAP, CAP_LINUX_IMMUTABLE, CAP_NET_BIND_SERVICE, CAP_NET_BROADCAST, CAP_NET_ADMIN, CAP_NET_RAW, CAP_IPC_LOCK, CAP_IPC_OWNER, CAP_SYS_MODULE, CAP_SYS_RAWIO, CAP_SYS_CHROOT, CAP_SYS_PTRACE, CAP_SYS_PACCT, CAP_SYS_ADMIN, CAP_SYS_BOOT, CAP_SYS_NICE, CAP_SYS_RESOURCE, CAP_SYS_TIME, CAP_SYS_TTY_CONFIG, CAP_MKNOD, CAP_LEASE, CAP_AUDIT_WRITE, CAP_AUDIT_CONTROL, CAP_SETFCAP, CAP_MAC_OVERRIDE, CAP_MAC_ADMIN, CAP_SYSLOG, CAP_WAKE_ALARM, CAP_BLOCK_SUSPEND, CAP_AUDIT_READ, CAP_PERFMON, CAP_BPF, CAP_CHECKPOINT_RESTORE',
    ],
    [
      "followChildren with a prefix operator",
      setnsWith("selectors:", "- matchBinaries: [{operator: Prefix, values: [/usr], followChildren: true}]"),
      "p.yaml:9:74: spec.kprobes[0].selectors[0].matchBinaries[0].followChildren: followChildren works only with the In and NotIn operators (got Prefix)",
    ],
    [
      "two matchBinaries entries",
      setnsWith(
        "selectors:",
        "- matchBinaries: [{operator: In, values: [/a]}, {operator: In, values: [/b]}]",
      ),
      "p.yaml:9:22: spec.kprobes[0].selectors[0].matchBinaries: has 2 entries, at most 1 allowed",
    ],
    [
      "six selectors",
      setnsWith("selectors: [{}, {}, {}, {}, {}, {}]"),
      "p.yaml:8:16: spec.kprobes[0].selectors: has 6 entries, at most 5 allowed",
    ],
    [
      "return without returnArg",
      setnsWith("return: true"),
      "p.yaml:7:5: spec.kprobes[0].returnArg: required when return is true",
    ],
    [
      "one-character message",
      setnsWith("message: x"),
      "p.yaml:8:14: spec.kprobes[0].message: must be 2 to 256 bytes long (got 1)",
    ],
    [
      "257-byte message",
      setnsWith(`message: ${"m".repeat(257)}`),
      "p.yaml:8:14: spec.kprobes[0].message: must be 2 to 256 bytes long (got 257)",
    ],
    [
      "seventeen tags",
      setnsWith(`tags: [${Array.from({ length: 17 }, (_, i) => `tag${i}`).join(", ")}]`),
      "p.yaml:8:11: spec.kprobes[0].tags: has 17 entries, at most 16 allowed",
    ],
    [
      "one-character tag",
      setnsWith("tags: [ok, x]"),
      "p.yaml:8:16: spec.kprobes[0].tags[1]: a tag must be 2 to 128 bytes long (got 1)",
    ],
    [
      "undefined selector macro",
      setnsWith("selectors:", "- macros: [not-defined]"),
      'p.yaml:9:16: spec.kprobes[0].selectors[0].macros[0]: selector macro "not-defined" is not defined in spec.selectorsMacros',
    ],
    [
      "hostSelector with labels",
      policyWithSpec("hostSelector: {matchLabels: {role: node}}"),
      "p.yaml:6:17: spec.hostSelector: must be either null or {} (selecting hosts by label is not supported)",
    ],
    [
      "hostSelector on a namespaced policy",
      "apiVersion: cilium.io/v1alpha1\nkind: TracingPolicyNamespaced\nmetadata:\n  name: a\n  namespace: default\nspec:\n  hostSelector: {}\n",
      "p.yaml:7:17: spec.hostSelector: must be null in a TracingPolicyNamespaced",
    ],
    [
      "label selector In without values",
      policyWithSpec("podSelector: {matchExpressions: [{key: app, operator: In}]}"),
      "p.yaml:6:36: spec.podSelector.matchExpressions[0].values: must not be empty when operator is In",
    ],
    [
      "invalid label value",
      policyWithSpec("podSelector: {matchLabels: {app: 'not valid'}}"),
      `p.yaml:6:36: spec.podSelector.matchLabels.app: invalid label value "not valid": at most 63 characters of letters, digits, '-', '_' and '.', starting and ending with a letter or digit`,
    ],
    [
      "uprobe with symbols and offsets",
      policyWithSpec("uprobes: [{path: /bin/sh, symbols: [main], offsets: [16]}]"),
      "p.yaml:6:55: spec.uprobes[0].offsets: at most one of symbols, addrs and offsets may be set (got symbols and offsets)",
    ],
    [
      "duplicate list names",
      policyWithSpec("lists: [{name: a, type: syscalls}, {name: a, type: syscalls}]"),
      'p.yaml:6:39: spec.lists[1].name: duplicate list name "a"',
    ],
    [
      "two enforcers",
      policyWithSpec("enforcers: [{calls: [a]}, {calls: [b]}]"),
      "p.yaml:6:14: spec.enforcers: has 2 entries, at most 1 allowed",
    ],
    [
      "tracepoint without event",
      policyWithSpec("tracepoints: [{subsystem: syscalls}]"),
      "p.yaml:6:17: spec.tracepoints[0].event: required field is missing",
    ],
  ])("%s", (_name, text, message) => {
    const error = parseError(text);
    expect(error.message).toBe(message);
    expect(error.message).not.toContain("\n");
  });

  it("exposes path, source, line, column and detail separately", () => {
    const error = parseError(setnsWith("args:", "- index: 0", '  type: "inty"'), "namespace-access.yaml");
    expect(isPolicyError(error)).toBe(true);
    expect({ path: error.path, source: error.source, line: error.line, column: error.column }).toStrictEqual({
      path: "spec.kprobes[0].args[0].type",
      source: "namespace-access.yaml",
      line: 10,
      column: 13,
    });
    expect(error.detail.startsWith('unknown type "inty"')).toBe(true);
  });

  it("works without a source name", () => {
    expect(() => parseTracingPolicy(setnsWith("syscall: 1"))).toThrow(
      /^8:14: spec\.kprobes\[0\]\.syscall: expected a boolean \(true or false\), got 1$/,
    );
  });

  it("follows YAML anchors and aliases", () => {
    const policy = parseTracingPolicy(
      policyWithSpec(
        "kprobes:",
        "- call: sys_setns",
        "  selectors: &not-init",
        "  - matchPIDs: [{operator: NotIn, values: [1], isNamespacePID: true}]",
        "- call: sys_unshare",
        "  selectors: *not-init",
      ),
    );
    const [setns, unshare] = policy.spec.kprobes ?? [];
    expect(unshare?.selectors).toStrictEqual(setns?.selectors);
    expect(unshare?.selectors?.[0]?.matchPIDs?.[0]?.values).toStrictEqual([1]);
  });

  it("a trailing document separator is not a second document", () => {
    expect(parseTracingPolicy(`${readFileSync(NAMESPACE_ACCESS_FILE, "utf8")}---\n`)).toStrictEqual(
      NAMESPACE_ACCESS_POLICY,
    );
  });
});
