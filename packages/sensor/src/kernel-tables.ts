// SPDX-License-Identifier: Apache-2.0
// The one place where the compiler's tables meet the header's structs: each function maps a
// compiled table to the C-named value of its struct (bpf/include/nsguard_events.h), which
// @nsguard/kernel-contract encodes by the generated layout. A new kernel selector is one line here.
import {
  NSGUARD_ARG_EQUAL,
  NSGUARD_ARG_FLAG_32BIT,
  NSGUARD_ARG_FLAG_SIGNED,
  NSGUARD_ARG_GT,
  NSGUARD_ARG_LT,
  NSGUARD_ARG_MASK,
  NSGUARD_ARG_NOT_EQUAL,
  NSGUARD_FILTER_IN,
  NSGUARD_FILTER_NOTIN,
  NSGUARD_NS_CALL_CLONE,
  NSGUARD_NS_CALL_CLONE3,
  NSGUARD_NS_CALL_NONE,
  NSGUARD_NS_CALL_SETNS,
  NSGUARD_NS_CALL_UNSHARE,
  NSGUARD_PID_FLAG_FOLLOW,
  NSGUARD_PID_FLAG_NSPID,
  type StructValue,
} from "@nsguard/kernel-contract";
import type { ArgFilterTable, HookTable, NamespaceCall, SelectorTable } from "@nsguard/policy";

const NS_CALLS: Readonly<Record<NamespaceCall, number>> = {
  setns: NSGUARD_NS_CALL_SETNS,
  unshare: NSGUARD_NS_CALL_UNSHARE,
  clone: NSGUARD_NS_CALL_CLONE,
  clone3: NSGUARD_NS_CALL_CLONE3,
};
const ARG_OPS: Readonly<Record<ArgFilterTable["op"], number>> = {
  Equal: NSGUARD_ARG_EQUAL,
  NotEqual: NSGUARD_ARG_NOT_EQUAL,
  Mask: NSGUARD_ARG_MASK,
  GT: NSGUARD_ARG_GT,
  LT: NSGUARD_ARG_LT,
};
const PID_OPS: Readonly<Record<NonNullable<SelectorTable["pids"]>["op"], number>> = {
  In: NSGUARD_FILTER_IN,
  NotIn: NSGUARD_FILTER_NOTIN,
};

/** A compiled hook table as struct nsguard_hook (map nsguard_hooks). */
export function hookValue(table: HookTable): StructValue<"nsguard_hook"> {
  return {
    enabled: table.enabled ? 1 : 0,
    selector_count: table.selectors.length,
    fd_arg: table.fdArg,
    ns_call: table.nsCall === undefined ? NSGUARD_NS_CALL_NONE : NS_CALLS[table.nsCall],
    selectors: table.selectors.map(selectorValue),
  };
}

function selectorValue(s: SelectorTable): StructValue<"nsguard_selector"> {
  const args = s.args ?? [];
  return {
    // Absent: op 0, no matchPIDs in this selector.
    pids: s.pids && {
      op: PID_OPS[s.pids.op],
      flags:
        (s.pids.isNamespacePid ? NSGUARD_PID_FLAG_NSPID : 0) |
        (s.pids.followForks ? NSGUARD_PID_FLAG_FOLLOW : 0),
      count: s.pids.values.length,
      values: s.pids.values,
    },
    action: s.action,
    arg_count: args.length,
    args: args.map((a) => ({
      op: ARG_OPS[a.op],
      index: a.index,
      count: a.values.length,
      flags: (a.width32 ? NSGUARD_ARG_FLAG_32BIT : 0) | (a.signed ? NSGUARD_ARG_FLAG_SIGNED : 0),
      values: a.values,
    })),
  };
}

/** Hook ids on one syscall number, per ABI, as struct nsguard_syscall_hooks (map nsguard_syscall_hooks). */
export function syscallHooksValue(hooks: {
  native: readonly number[];
  compat: readonly number[];
}): StructValue<"nsguard_syscall_hooks"> {
  return {
    count: hooks.native.length,
    hook_ids: hooks.native,
    compat_count: hooks.compat.length,
    compat_hook_ids: hooks.compat,
  };
}

/** A process that predates the sensor, for the kernel's process table (struct nsguard_proc). */
export interface KernelProcessSeed {
  pid: number;
  /** Boot-clock ns of the process start (its exec_id ktime). */
  ktime: bigint;
  parentPid: number;
  parentKtime: bigint;
  /** tgid in its own pid namespace; 0 in the initial pid namespace. */
  nspid: number;
  /** NSGUARD_FLAG_* bits (PROCFS for scanned processes). */
  flags: number;
}

/** A seed as struct nsguard_proc (map nsguard_procs, key: the tgid). */
export function procValue(p: KernelProcessSeed): StructValue<"nsguard_proc"> {
  return {
    key: { pid: p.pid, ktime: p.ktime },
    parent: { pid: p.parentPid, ktime: p.parentKtime },
    nspid: p.nspid,
    flags: p.flags,
  };
}
