// SPDX-License-Identifier: Apache-2.0

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
  table: HookTable;
}

/**
 * `fd` is its own kind because Tetragon reports it as `file_arg` (the path behind the descriptor).
 * Until nsguard resolves files, the agent reports an `fd` argument as `int_arg`.
 */
export type CompiledArgKind = "int_arg" | "uint_arg" | "long_arg" | "size_arg" | "fd";

export interface CompiledArg {
  /** Syscall / function argument position, 0..5. */
  index: number;
  /** The `KprobeArgument` oneof member this argument is reported as. */
  kind: CompiledArgKind;
  /** Copied into `KprobeArgument.label`. */
  label?: string;
}

/**
 * Mirrors struct nsguard_hook in bpf/include/nsguard_events.h, which the native addon encodes; keep
 * the two in step. `selectors.length` is `selector_count`. `scope_id` is not compiled: the sensor
 * sets it at load, from the policy's scope (CompiledPolicy.scope) as the agent filled it.
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
  /** At most NSGUARD_MAX_SELECTORS (5). ORed, first match wins; none means every call is posted. */
  selectors: SelectorTable[];
}

/** Values of tetragon.KprobeAction (and enum nsguard_action). */
export const KPROBE_ACTION_POST = 1;
export const KPROBE_ACTION_SIGKILL = 3;
export const KPROBE_ACTION_NOPOST = 9;
export type SelectorAction =
  | typeof KPROBE_ACTION_POST
  | typeof KPROBE_ACTION_SIGKILL
  | typeof KPROBE_ACTION_NOPOST;

export type NamespaceCall = "setns" | "unshare" | "clone" | "clone3";

/** Mirrors struct nsguard_arg_filter: one matchArgs entry on an integer argument. */
export interface ArgFilterTable {
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

/** Mirrors struct nsguard_selector. */
export interface SelectorTable {
  /** Mirrors struct nsguard_pid_filter; absent = no matchPIDs (op 0). At most 4 values. */
  pids?: { op: "In" | "NotIn"; isNamespacePid: boolean; followForks: boolean; values: number[] };
  /** matchArgs entries, ANDed; absent = none. */
  args?: ArgFilterTable[];
  /** What the kernel does when the selector matches: POST (1), SIGKILL (3, also posted) or NOPOST (9). */
  action: SelectorAction;
  /** The policy asked for Sigkill but the policy is in monitor mode, so it only posts. Not encoded. */
  monitorOnly?: true;
  /** The selector's `label`, for status and metrics. Not encoded. */
  label?: string;
}
