// SPDX-License-Identifier: Apache-2.0

import {
  NSGUARD_ACTION_NOPOST,
  NSGUARD_ACTION_POST,
  NSGUARD_ACTION_SIGKILL,
  NSGUARD_ACTION_SIGNAL,
} from "@nsguard/kernel-contract";
import type { TracingPolicyKind } from "./crd-enums.js";
import type { LabelSelector } from "./tracing-policy-types.js";

// What nsguard loads for a policy: per hook, where to attach, which arguments to report, and the table
// the kernel evaluates.

export type PolicyMode = "enforce" | "monitor";

export interface CompiledPolicy {
  name: string;
  /** Set for TracingPolicyNamespaced only. */
  namespace?: string;
  kind: TracingPolicyKind;
  /** `monitor` (spec.options policy-mode, or the compile option) compiles every Sigkill to Post. */
  mode: PolicyMode;
  hooks: CompiledHook[];
  /** The workloads the policy applies to; absent: every workload, host processes included. */
  scope?: WorkloadScope;
}

/**
 * Which workloads a policy applies to (TracingPolicyNamespaced's namespace, spec.podSelector,
 * spec.containerSelector, spec.hostSelector; see workload-scope.ts). A container is in scope when
 * every part that is set matches; host processes when `includeHost`.
 */
export interface WorkloadScope {
  /** Only pods of this namespace (TracingPolicyNamespaced). */
  namespace?: string;
  /** Over the pod's labels, plus `k8s:io.kubernetes.pod.namespace` as Tetragon adds it. */
  podSelector?: LabelSelector;
  /** Over the container's fields `name` and `repo` (the image repository). */
  containerSelector?: LabelSelector;
  /** Processes outside every pod container are in scope too (`hostSelector: {}`). */
  includeHost: boolean;
}

export type HookAttach =
  /** `tracepoint/syscalls/sys_enter_<name>`: how syscalls are hooked on kernels without kprobes. */
  | { kind: "syscall-tracepoint"; category: "syscalls"; enter: string }
  /** A kprobe on a kernel function; the sensor refuses it on kernels without kprobes. */
  | { kind: "kprobe"; symbol: string };

export interface CompiledHook {
  /** Position in `hooks`; a `list:` call expands to several consecutive hooks. */
  index: number;
  /** The policy entry this hook came from, e.g. `spec.kprobes[0]` (for status and load errors). */
  specPath: string;
  /** The call as written (for a list, the list value this hook came from). */
  call: string;
  /** Resolved symbol, reported as `function_name` (`__x64_sys_setns`). */
  functionName: string;
  /** Bare syscall name (`setns`), for syscall hooks. */
  syscall?: string;
  attach: HookAttach;
  /** Arguments to report, in the order of the policy's `args` (`nop` ones left out). */
  args: CompiledArg[];
  /** The policy message, escaped the way Tetragon emits it. */
  message?: string;
  /** The policy tags, escaped the way Tetragon emits them. */
  tags: string[];
  /**
   * `return: true`: the event is reported at the call's return, with the return value rendered
   * as this argument (`returnArg`; an integer kind, its index unused) in ProcessKprobe.return.
   */
  returnArg?: CompiledReturnArg;
  table: HookTable;
}

/** `returnArg`: how a syscall's return value (a long: a result, or -errno) is reported. */
export interface CompiledReturnArg {
  kind: "int_arg" | "uint_arg" | "long_arg" | "size_arg";
  /** Copied into `KprobeArgument.label`. */
  label?: string;
}

/**
 * The `KprobeArgument` oneof member an argument is reported as (tetragon-reference §1.6). The last
 * three are read by the kernel at the call into a string slot of the record (HookTable.strings):
 * `string_arg` (string, filename: from user memory), `file_arg` (fd, file: the path of the open
 * file), `bytes_arg` (char_buf: sizeArgIndex bytes of user memory).
 */
export type CompiledArgKind =
  | "int_arg"
  | "uint_arg"
  | "long_arg"
  | "size_arg"
  | "string_arg"
  | "file_arg"
  | "bytes_arg";

export interface CompiledArg {
  /** Syscall / function argument position, 0..5. */
  index: number;
  /** The `KprobeArgument` oneof member this argument is reported as. */
  kind: CompiledArgKind;
  /** Copied into `KprobeArgument.label`. */
  label?: string;
  /** string_arg, file_arg, bytes_arg: which string of the record (HookTable.strings) holds it. */
  stringSlot?: number;
}

/** Mirrors struct nsguard_string_arg: how the kernel reads one string argument at the call. */
export interface StringArgTable {
  kind: "user" | "fd-path" | "char-buf";
  /** Function-argument index, 0..5. */
  index: number;
  /** char-buf: the function argument holding the byte count (sizeArgIndex - 1); else -1. */
  sizeArg: number;
}

/**
 * What the kernel evaluates for a hook: struct nsguard_hook of bpf/include/nsguard_events.h, which
 * the sensor maps to the struct's fields (packages/sensor/src/kernel-tables.ts).
 * `scope_id` is not compiled: the sensor sets it at load, from the policy's scope (CompiledPolicy.scope).
 */
export interface HookTable {
  enabled: boolean;
  /**
   * Function-argument index of a descriptor the kernel resolves (kind and namespace inode), or -1:
   * the first `fd`-typed argument. Namespace calls (nsCall) resolve theirs from the call itself.
   */
  fdArg: number;
  /**
   * The namespace call whose change the kernel resolves at the call (setns's target namespace,
   * the kinds unshare/clone/clone3 create, and whether each is the host's); set from the hooked
   * syscall's name, absent for other hooks.
   */
  nsCall?: NamespaceCall;
  /** Arguments the kernel reads as strings at the call, by CompiledArg.stringSlot (at most 2). */
  strings: StringArgTable[];
  /** At most NSGUARD_MAX_SELECTORS (5). ORed, first match wins; none means every call is posted. */
  selectors: SelectorTable[];
  /**
   * `return: true` (NSGUARD_HOOK_FLAG_RETURN): a matched call is posted at its return, after the
   * matched selector's returnArgs and returnAction; matchActions' signals are still sent at the call.
   */
  atReturn?: true;
}

/** enum nsguard_action, whose values are tetragon.KprobeAction's (checked in crd-limits.test.ts). */
export const KPROBE_ACTION_POST = NSGUARD_ACTION_POST;
export const KPROBE_ACTION_SIGKILL = NSGUARD_ACTION_SIGKILL;
export const KPROBE_ACTION_NOPOST = NSGUARD_ACTION_NOPOST;
export const KPROBE_ACTION_SIGNAL = NSGUARD_ACTION_SIGNAL;
export type SelectorAction =
  | typeof KPROBE_ACTION_POST
  | typeof KPROBE_ACTION_SIGKILL
  | typeof KPROBE_ACTION_NOPOST
  | typeof KPROBE_ACTION_SIGNAL;

export type ReturnAction =
  | typeof KPROBE_ACTION_POST
  | typeof KPROBE_ACTION_SIGKILL
  | typeof KPROBE_ACTION_NOPOST;

export type NamespaceCall = "setns" | "unshare" | "clone" | "clone3";

/** Mirrors struct nsguard_arg_filter: one matchArgs entry on an integer argument. */
export interface IntArgFilterTable {
  type: "int";
  op: "Equal" | "NotEqual" | "Mask" | "GT" | "LT";
  /** Function-argument index, 0..5. */
  index: number;
  /** Values as 64-bit patterns (negative numbers in two's complement); GT/LT take one. */
  values: bigint[];
  /** int/uint arguments: only the low 32 bits are compared. */
  width32: boolean;
  /** int/long arguments: compared as signed. */
  signed: boolean;
}

/** Operators on strings (enum nsguard_arg_op's string members). */
export type StringOp = "Equal" | "NotEqual" | "Prefix" | "NotPrefix" | "Postfix" | "NotPostfix";

/**
 * A filter on a string (an argument the kernel read, or the binary): its values go to the kernel's
 * string maps under a filter id the sensor allocates at load (struct nsguard_string_key).
 */
export interface StringFilterTable {
  op: StringOp;
  /** UTF-8 values, each at most MAX_STRING_BYTES bytes (Equal: one less, for the NUL). */
  values: string[];
}

/** Mirrors struct nsguard_arg_filter with NSGUARD_ARG_FLAG_STRING: matchArgs on a string argument. */
export interface StringArgFilterTable extends StringFilterTable {
  type: "string";
  /** Function-argument index, 0..5. */
  index: number;
  /** Which string of the call (HookTable.strings) is compared. */
  stringSlot: number;
}

export type ArgFilterTable = IntArgFilterTable | StringArgFilterTable;

/** Mirrors struct nsguard_binary_filter: matchBinaries. */
export interface BinaryFilterTable extends StringFilterTable {
  /** In/NotIn only: descendants of a matching exec match too (a kernel follow filter bit). */
  followChildren: boolean;
}

/** Mirrors struct nsguard_ns_filter: one matchNamespaces entry. */
export interface NamespaceFilterTable {
  /** enum nsguard_ns_index: the position in NAMESPACE_NAMES. */
  kind: number;
  op: "In" | "NotIn";
  /** Inode numbers, at most 4. */
  values: number[];
  /** `host_ns` is one of the values. */
  host: boolean;
}

/** Mirrors struct nsguard_cap_filter: one matchCapabilities / matchCapabilityChanges entry. */
export interface CapabilityFilterTable {
  /** enum nsguard_cap_set: Effective 0, Inheritable 1, Permitted 2. */
  set: number;
  op: "In" | "NotIn";
  isNamespaceCapability: boolean;
  /** Bit n = capability n. */
  mask: bigint;
}

/** A set of namespace kinds (bit 1 << enum nsguard_ns_index) with In/NotIn. */
export interface NamespaceKindsTable {
  op: "In" | "NotIn";
  kinds: number;
}

/** Mirrors struct nsguard_selector. */
export interface SelectorTable {
  /** struct nsguard_pid_filter; absent = no matchPIDs (op 0). At most NSGUARD_MAX_PID_VALUES values. */
  pids?: { op: "In" | "NotIn"; isNamespacePid: boolean; followForks: boolean; values: number[] };
  /** matchArgs entries, ANDed; absent = none. */
  args?: ArgFilterTable[];
  binary?: BinaryFilterTable;
  /** matchNamespaces entries, ANDed. */
  namespaces?: NamespaceFilterTable[];
  /** matchNamespaceChanges: a namespace of one of the kinds differs from the one at exec. */
  namespaceChanges?: NamespaceKindsTable;
  /** matchCapabilities entries, ANDed. */
  capabilities?: CapabilityFilterTable[];
  /** matchCapabilityChanges entries, ANDed. */
  capabilityChanges?: CapabilityFilterTable[];
  /** nsguard extension matchHostNamespaceEntry: the call enters the host's namespace of a kind from another. */
  hostNamespaceEntry?: NamespaceKindsTable;
  /**
   * What the kernel does when the selector matches: POST (1), SIGKILL (3, also posted), NOPOST (9)
   * or SIGNAL (10: `signal`, also posted).
   */
  action: SelectorAction;
  /** SIGNAL: the signal number (argSig). */
  signal?: number;
  /**
   * matchReturnArgs entries, ANDed, on the return value (hooks with atReturn; `index` is 0 and
   * unused). At most NSGUARD_MAX_RETURN_ARG_FILTERS.
   */
  returnArgs?: IntArgFilterTable[];
  /**
   * matchReturnActions: what the kernel does at the return when returnArgs match: POST (the
   * default), NOPOST or SIGKILL (also posted).
   */
  returnAction?: ReturnAction;
  /** Post rateLimit: at most one post per interval per scope and arguments. */
  rateLimit?: { intervalNs: bigint; scope: "thread" | "process" | "global" };
  /** The policy asked for Sigkill but the policy is in monitor mode, so it only posts. Not encoded. */
  monitorOnly?: true;
  /** The selector's `label`, for status and metrics. Not encoded. */
  label?: string;
}
