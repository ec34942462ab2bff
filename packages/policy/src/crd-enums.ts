// SPDX-License-Identifier: Apache-2.0

// The enumerations of the TracingPolicy CRD, copied from Tetragon's generated schema
// (pkg/tracingpolicy/schemas/tracingpolicy-cilium.io.json) and selector parser
// (pkg/selectors/kernel.go), in the schema's order so error messages list them the way the CRD does.

export const API_VERSION = "cilium.io/v1alpha1";

export const POLICY_KINDS = ["TracingPolicy", "TracingPolicyNamespaced"] as const;
export type TracingPolicyKind = (typeof POLICY_KINDS)[number];

/** `KProbeArg.type`. */
export const ARG_TYPES = [
  "auto",
  "int",
  "sint8",
  "int8",
  "uint8",
  "sint16",
  "int16",
  "uint16",
  "uint32",
  "sint32",
  "int32",
  "ulong",
  "uint64",
  "size_t",
  "long",
  "sint64",
  "int64",
  "char_buf",
  "char_iovec",
  "skb",
  "sock",
  "sockaddr",
  "socket",
  "sockaddr_un",
  "string",
  "fd",
  "file",
  "filename",
  "path",
  "nop",
  "bpf_attr",
  "perf_event",
  "bpf_map",
  "user_namespace",
  "capability",
  "kiocb",
  "iov_iter",
  "cred",
  "const_buf",
  "load_info",
  "module",
  "syscall64",
  "kernel_cap_t",
  "cap_inheritable",
  "cap_permitted",
  "cap_effective",
  "linux_binprm",
  "data_loc",
  "net_device",
  "bpf_cmd",
  "dentry",
  "bpf_prog",
] as const;
export type ArgType = (typeof ARG_TYPES)[number];

/** `matchArgs` / `matchData` / `matchReturnArgs` operators, CRD spelling. */
export const ARG_OPERATORS = [
  "Equal",
  "NotEqual",
  "Prefix",
  "NotPrefix",
  "Postfix",
  "NotPostfix",
  "GreaterThan",
  "LessThan",
  "GT",
  "LT",
  "Mask",
  "SPort",
  "NotSPort",
  "SPortPriv",
  "NotSportPriv",
  "DPort",
  "NotDPort",
  "DPortPriv",
  "NotDPortPriv",
  "SAddr",
  "NotSAddr",
  "DAddr",
  "NotDAddr",
  "Protocol",
  "Family",
  "State",
  "InMap",
  "NotInMap",
  "CapabilitiesGained",
  "InRange",
  "NotInRange",
  "SubString",
  "SubStringIgnCase",
  "CelExpr",
  "FileType",
  "NotFileType",
] as const;
export type ArgOperator = (typeof ARG_OPERATORS)[number];

/**
 * Other spellings Tetragon's `SelectorOp` accepts, mapped to the CRD spelling they mean. Tetragon
 * parses these after the schema, so policies written against its older docs (`eq`, `prefix`, …) exist.
 */
export const ARG_OPERATOR_ALIASES: Readonly<Record<string, ArgOperator>> = {
  gt: "GT",
  lt: "LT",
  eq: "Equal",
  neq: "NotEqual",
  prefix: "Prefix",
  notprefix: "NotPrefix",
  postfix: "Postfix",
  notpostfix: "NotPostfix",
  mask: "Mask",
  saddr: "SAddr",
  Saddr: "SAddr",
  daddr: "DAddr",
  Daddr: "DAddr",
  notsaddr: "NotSAddr",
  NotSaddr: "NotSAddr",
  notdaddr: "NotDAddr",
  NotDaddr: "NotDAddr",
  sport: "SPort",
  Sport: "SPort",
  dport: "DPort",
  Dport: "DPort",
  protocol: "Protocol",
  notsport: "NotSPort",
  NotSport: "NotSPort",
  notdport: "NotDPort",
  NotDport: "NotDPort",
  sportpriv: "SPortPriv",
  SportPriv: "SPortPriv",
  dportpriv: "DPortPriv",
  DportPriv: "DPortPriv",
  // The CRD enum spells this one "NotSportPriv" while the parser's own table says "NotSPortPriv".
  notsportpriv: "NotSportPriv",
  NotSPortPriv: "NotSportPriv",
  notdportpriv: "NotDPortPriv",
  NotDportPriv: "NotDPortPriv",
  family: "Family",
  state: "State",
};

/** Operators of matchPIDs, matchNamespaces, matchNamespaceChanges, matchCapabilities. Exact spelling only. */
export const SET_OPERATORS = ["In", "NotIn"] as const;
export type SetOperator = (typeof SET_OPERATORS)[number];

export const BINARY_OPERATORS = ["In", "NotIn", "Prefix", "NotPrefix", "Postfix", "NotPostfix"] as const;
export type BinaryOperator = (typeof BINARY_OPERATORS)[number];

export const CMD_ARG_OPERATORS = [
  "Equal",
  "NotEqual",
  "Prefix",
  "NotPrefix",
  "Postfix",
  "NotPostfix",
] as const;
export type CmdArgOperator = (typeof CMD_ARG_OPERATORS)[number];

export const STATE_OPERATORS = ["Equal", "NotEqual"] as const;
export type StateOperator = (typeof STATE_OPERATORS)[number];

export const LABEL_SELECTOR_OPERATORS = ["In", "NotIn", "Exists", "DoesNotExist"] as const;
export type LabelSelectorOperator = (typeof LABEL_SELECTOR_OPERATORS)[number];

/** `ActionSelector.action`. Tetragon lowercases before looking it up, so any case is accepted. */
export const ACTION_NAMES = [
  "Post",
  "Sigkill",
  "Override",
  "GetUrl",
  "DnsLookup",
  "NoPost",
  "Signal",
  "TrackSock",
  "UntrackSock",
  "NotifyEnforcer",
  "CleanupEnforcerNotification",
  "Set",
  "UpdateState",
] as const;
export type ActionName = (typeof ACTION_NAMES)[number];

/** Actions that older Tetragon releases had and the CRD no longer lists. */
export const REMOVED_ACTION_NAMES = ["FollowFD", "UnfollowFD", "CopyFD"] as const;

export const RETURN_ARG_ACTIONS = ["TrackSock", "UntrackSock"] as const;
export type ReturnArgAction = (typeof RETURN_ARG_ACTIONS)[number];

export const RATE_LIMIT_SCOPES = ["thread", "process", "global"] as const;
export type RateLimitScope = (typeof RATE_LIMIT_SCOPES)[number];

export const STATE_UPDATE_OPERATORS = ["Set", "Delete"] as const;
export type StateUpdateOperator = (typeof STATE_UPDATE_OPERATORS)[number];

/** Namespace names of matchNamespaces / matchNamespaceChanges (Tetragon matches them case-insensitively). */
export const NAMESPACE_NAMES = [
  "Uts",
  "Ipc",
  "Mnt",
  "Pid",
  "PidForChildren",
  "Net",
  "Time",
  "TimeForChildren",
  "Cgroup",
  "User",
] as const;
export type NamespaceName = (typeof NAMESPACE_NAMES)[number];

export const CAPABILITY_TYPES = ["Effective", "Inheritable", "Permitted"] as const;
export type CapabilityType = (typeof CAPABILITY_TYPES)[number];

/**
 * Capability names as `tetragon.CapabilitiesType` spells them, index = capability number. Value 1
 * really is `DAC_OVERRIDE` without the `CAP_` prefix (tetragon-reference §1.5).
 */
export const CAPABILITY_NAMES = [
  "CAP_CHOWN",
  "DAC_OVERRIDE",
  "CAP_DAC_READ_SEARCH",
  "CAP_FOWNER",
  "CAP_FSETID",
  "CAP_KILL",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETPCAP",
  "CAP_LINUX_IMMUTABLE",
  "CAP_NET_BIND_SERVICE",
  "CAP_NET_BROADCAST",
  "CAP_NET_ADMIN",
  "CAP_NET_RAW",
  "CAP_IPC_LOCK",
  "CAP_IPC_OWNER",
  "CAP_SYS_MODULE",
  "CAP_SYS_RAWIO",
  "CAP_SYS_CHROOT",
  "CAP_SYS_PTRACE",
  "CAP_SYS_PACCT",
  "CAP_SYS_ADMIN",
  "CAP_SYS_BOOT",
  "CAP_SYS_NICE",
  "CAP_SYS_RESOURCE",
  "CAP_SYS_TIME",
  "CAP_SYS_TTY_CONFIG",
  "CAP_MKNOD",
  "CAP_LEASE",
  "CAP_AUDIT_WRITE",
  "CAP_AUDIT_CONTROL",
  "CAP_SETFCAP",
  "CAP_MAC_OVERRIDE",
  "CAP_MAC_ADMIN",
  "CAP_SYSLOG",
  "CAP_WAKE_ALARM",
  "CAP_BLOCK_SUSPEND",
  "CAP_AUDIT_READ",
  "CAP_PERFMON",
  "CAP_BPF",
  "CAP_CHECKPOINT_RESTORE",
] as const;
export type CapabilityName = (typeof CAPABILITY_NAMES)[number];

export const LIST_TYPES = ["syscalls", "generated_syscalls", "generated_ftrace"] as const;
export type ListType = (typeof LIST_TYPES)[number];
