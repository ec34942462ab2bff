// SPDX-License-Identifier: Apache-2.0

import type { TracingPolicyKind } from "./crd-enums.js";

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
 * the two in step. `selectors.length` is `selector_count`.
 */
export interface HookTable {
  enabled: boolean;
  /**
   * Function-argument index of a descriptor the kernel resolves (kind and namespace inode), or -1.
   * The first `fd`-typed argument; for setns always 0, because the seed policies type setns's fd as
   * `int` and the namespace it refers to is what tells a container escape apart.
   */
  fdArg: number;
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

/** Mirrors struct nsguard_selector. */
export interface SelectorTable {
  /** Mirrors struct nsguard_pid_filter; absent = no matchPIDs (op 0). At most 4 values. */
  pids?: { op: "In" | "NotIn"; isNamespacePid: boolean; followForks: boolean; values: number[] };
  /** What the kernel does when the selector matches: POST (1), SIGKILL (3, also posted) or NOPOST (9). */
  action: SelectorAction;
  /** The policy asked for Sigkill but the policy is in monitor mode, so it only posts. Not encoded. */
  monitorOnly?: true;
  /** The selector's `label`, for status and metrics. Not encoded. */
  label?: string;
}
