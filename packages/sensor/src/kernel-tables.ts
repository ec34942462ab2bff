// SPDX-License-Identifier: Apache-2.0
// The one place where the compiler's tables meet the header's structs: each function maps a
// compiled table to the C-named value of its struct (bpf/include/nsguard_events.h), which
// @nsguard/kernel-contract encodes by the generated layout. A new kernel selector is one line here.
import {
  NSGUARD_ARG_EQUAL,
  NSGUARD_ARG_FLAG_32BIT,
  NSGUARD_ARG_FLAG_SIGNED,
  NSGUARD_ARG_FLAG_STRING,
  NSGUARD_ARG_GT,
  NSGUARD_ARG_LT,
  NSGUARD_ARG_MASK,
  NSGUARD_ARG_NOT_EQUAL,
  NSGUARD_ARG_NOT_POSTFIX,
  NSGUARD_ARG_NOT_PREFIX,
  NSGUARD_ARG_POSTFIX,
  NSGUARD_ARG_PREFIX,
  NSGUARD_CAP_FLAG_NAMESPACED,
  NSGUARD_FILTER_IN,
  NSGUARD_FILTER_NOTIN,
  NSGUARD_HOOK_FLAG_CHANGE_FIRST,
  NSGUARD_HOOK_FLAG_RETURN,
  NSGUARD_HOOK_FLAG_STRINGS_FIRST,
  NSGUARD_NS_CALL_CLONE,
  NSGUARD_NS_CALL_CLONE3,
  NSGUARD_NS_CALL_NONE,
  NSGUARD_NS_CALL_SETNS,
  NSGUARD_NS_CALL_UNSHARE,
  NSGUARD_NS_CGROUP,
  NSGUARD_NS_COUNT,
  NSGUARD_NS_FILTER_HOST,
  NSGUARD_NS_IPC,
  NSGUARD_NS_MNT,
  NSGUARD_NS_NET,
  NSGUARD_NS_PID,
  NSGUARD_NS_PID_FOR_CHILDREN,
  NSGUARD_NS_TIME,
  NSGUARD_NS_TIME_FOR_CHILDREN,
  NSGUARD_NS_USER,
  NSGUARD_NS_UTS,
  NSGUARD_PID_FLAG_FOLLOW,
  NSGUARD_PID_FLAG_NSPID,
  NSGUARD_RATE_GLOBAL,
  NSGUARD_RATE_PROCESS,
  NSGUARD_RATE_THREAD,
  NSGUARD_STRING_CHAR_BUF,
  NSGUARD_STRING_FD_PATH,
  NSGUARD_STRING_LEN,
  NSGUARD_STRING_USER,
  type StructValue,
} from "@nsguard/kernel-contract";
import type { RawNamespaces } from "@nsguard/native";
import type {
  CapabilityFilterTable,
  CompiledArg,
  HookTable,
  IntArgFilterTable,
  NamespaceCall,
  NamespaceKindsTable,
  SelectorTable,
  StringArgTable,
  StringOp,
} from "@nsguard/policy";

const NS_CALLS: Readonly<Record<NamespaceCall, number>> = {
  setns: NSGUARD_NS_CALL_SETNS,
  unshare: NSGUARD_NS_CALL_UNSHARE,
  clone: NSGUARD_NS_CALL_CLONE,
  clone3: NSGUARD_NS_CALL_CLONE3,
};
const INT_ARG_OPS: Readonly<Record<IntArgFilterTable["op"], number>> = {
  Equal: NSGUARD_ARG_EQUAL,
  NotEqual: NSGUARD_ARG_NOT_EQUAL,
  Mask: NSGUARD_ARG_MASK,
  GT: NSGUARD_ARG_GT,
  LT: NSGUARD_ARG_LT,
};
const STRING_OPS: Readonly<Record<StringOp, number>> = {
  Equal: NSGUARD_ARG_EQUAL,
  NotEqual: NSGUARD_ARG_NOT_EQUAL,
  Prefix: NSGUARD_ARG_PREFIX,
  NotPrefix: NSGUARD_ARG_NOT_PREFIX,
  Postfix: NSGUARD_ARG_POSTFIX,
  NotPostfix: NSGUARD_ARG_NOT_POSTFIX,
};
const SET_OPS: Readonly<Record<"In" | "NotIn", number>> = {
  In: NSGUARD_FILTER_IN,
  NotIn: NSGUARD_FILTER_NOTIN,
};
const STRING_READS: Readonly<Record<StringArgTable["kind"], number>> = {
  user: NSGUARD_STRING_USER,
  "fd-path": NSGUARD_STRING_FD_PATH,
  "char-buf": NSGUARD_STRING_CHAR_BUF,
};
const RATE_SCOPES: Readonly<Record<NonNullable<SelectorTable["rateLimit"]>["scope"], number>> = {
  thread: NSGUARD_RATE_THREAD,
  process: NSGUARD_RATE_PROCESS,
  global: NSGUARD_RATE_GLOBAL,
};

/**
 * Where the sensor put a selector's string values (StringFilters): a filter id per matchArgs
 * entry on a string (0 for integer ones), the matchBinaries filter id and its follow bit + 1.
 */
export interface SelectorFilterIds {
  args: number[];
  binary: number;
  followBit: number;
}

/** A compiled hook (its table and declared args) as struct nsguard_hook (map nsguard_hooks). */
export function hookValue(
  hook: { table: HookTable; args: readonly CompiledArg[] },
  ids: readonly SelectorFilterIds[],
  scopeId = 0,
): StructValue<"nsguard_hook"> {
  const { table } = hook;
  // Post rateLimit keys on the declared integer arguments; strings and files by what was read.
  let rateArgs = 0;
  for (const arg of hook.args) if (arg.stringSlot === undefined) rateArgs |= 1 << arg.index;
  const changeFirst = table.selectors.some((s) => s.hostNamespaceEntry !== undefined);
  const stringsFirst = table.selectors.some((s) => (s.args ?? []).some((a) => a.type === "string"));
  return {
    enabled: table.enabled ? 1 : 0,
    selector_count: table.selectors.length,
    fd_arg: table.fdArg,
    ns_call: table.nsCall === undefined ? NSGUARD_NS_CALL_NONE : NS_CALLS[table.nsCall],
    flags:
      (changeFirst ? NSGUARD_HOOK_FLAG_CHANGE_FIRST : 0) |
      (stringsFirst ? NSGUARD_HOOK_FLAG_STRINGS_FIRST : 0) |
      (table.atReturn ? NSGUARD_HOOK_FLAG_RETURN : 0),
    string_count: table.strings.length,
    strings: table.strings.map((read) => ({
      kind: STRING_READS[read.kind],
      index: read.index,
      size_arg: read.sizeArg,
    })),
    selectors: table.selectors.map((s, i) =>
      selectorValue(s, ids[i] ?? { args: [], binary: 0, followBit: 0 }),
    ),
    // 0: unscoped; else the policy's workload scope in map nsguard_policy_cgroups.
    scope_id: scopeId,
    rate_args: rateArgs,
  };
}

function kindsValue(table: NamespaceKindsTable | undefined): { op: number; kinds: number } {
  return table === undefined ? { op: 0, kinds: 0 } : { op: SET_OPS[table.op], kinds: table.kinds };
}

function capValue(c: CapabilityFilterTable): StructValue<"nsguard_cap_filter"> {
  return {
    set: c.set,
    op: SET_OPS[c.op],
    flags: c.isNamespaceCapability ? NSGUARD_CAP_FLAG_NAMESPACED : 0,
    mask: c.mask,
  };
}

function selectorValue(s: SelectorTable, ids: SelectorFilterIds): StructValue<"nsguard_selector"> {
  const args = s.args ?? [];
  const namespaces = s.namespaces ?? [];
  const caps = s.capabilities ?? [];
  const capChanges = s.capabilityChanges ?? [];
  const nsChanges = kindsValue(s.namespaceChanges);
  const hostEntry = kindsValue(s.hostNamespaceEntry);
  return {
    // Absent: op 0, no matchPIDs in this selector.
    pids: s.pids && {
      op: SET_OPS[s.pids.op],
      flags:
        (s.pids.isNamespacePid ? NSGUARD_PID_FLAG_NSPID : 0) |
        (s.pids.followForks ? NSGUARD_PID_FLAG_FOLLOW : 0),
      count: s.pids.values.length,
      values: s.pids.values,
    },
    action: s.action,
    arg_count: args.length,
    args: args.map((a, i) =>
      a.type === "int"
        ? intArgValue(a)
        : {
            op: STRING_OPS[a.op],
            index: a.index,
            flags: NSGUARD_ARG_FLAG_STRING,
            filter_id: ids.args[i] ?? 0,
            string_slot: a.stringSlot,
          },
    ),
    binary: s.binary && {
      op: STRING_OPS[s.binary.op],
      filter_id: ids.binary,
      follow_bit: ids.followBit,
    },
    ns_count: namespaces.length,
    ns: namespaces.map((n) => ({
      kind: n.kind,
      op: SET_OPS[n.op],
      count: n.values.length,
      flags: n.host ? NSGUARD_NS_FILTER_HOST : 0,
      values: n.values,
    })),
    cap_count: caps.length,
    caps: caps.map(capValue),
    cap_change_count: capChanges.length,
    cap_changes: capChanges.map(capValue),
    ns_change_op: nsChanges.op,
    ns_change_kinds: nsChanges.kinds,
    host_entry_op: hostEntry.op,
    host_entry_kinds: hostEntry.kinds,
    signal: s.signal ?? 0,
    rate_limit_ns: s.rateLimit?.intervalNs ?? 0n,
    rate_scope: s.rateLimit === undefined ? 0 : RATE_SCOPES[s.rateLimit.scope],
    // Return hooks (NSGUARD_HOOK_FLAG_RETURN): checked at the return; return_action 0 = POST.
    return_arg_count: s.returnArgs?.length ?? 0,
    return_args: (s.returnArgs ?? []).map(intArgValue),
    return_action: s.returnAction ?? 0,
  };
}

function intArgValue(a: IntArgFilterTable): StructValue<"nsguard_arg_filter"> {
  return {
    op: INT_ARG_OPS[a.op],
    index: a.index,
    count: a.values.length,
    flags: (a.width32 ? NSGUARD_ARG_FLAG_32BIT : 0) | (a.signed ? NSGUARD_ARG_FLAG_SIGNED : 0),
    values: a.values,
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
  /**
   * What matchBinaries compares: the binary as /proc/PID/exe names it, "" when unknown. The
   * kernel stores the path the exec was given (bprm->interp); exe is that path resolved, the
   * closest /proc has.
   */
  binary: string;
  /**
   * The namespaces now, standing in for those at exec (which /proc does not keep): the base of
   * matchNamespaceChanges, so a change after the scan is seen as one. 0 = unreadable.
   */
  execNs: RawNamespaces;
  /** The capability sets now, standing in for those at exec (matchCapabilityChanges). */
  execCaps: { effective: bigint; inheritable: bigint; permitted: bigint };
}

/** RawNamespaces field → its slot in nsguard_proc.exec_ns (enum nsguard_ns_index). */
const NS_SLOTS: Readonly<Record<keyof RawNamespaces, number>> = {
  uts: NSGUARD_NS_UTS,
  ipc: NSGUARD_NS_IPC,
  mnt: NSGUARD_NS_MNT,
  pid: NSGUARD_NS_PID,
  pidForChildren: NSGUARD_NS_PID_FOR_CHILDREN,
  net: NSGUARD_NS_NET,
  time: NSGUARD_NS_TIME,
  timeForChildren: NSGUARD_NS_TIME_FOR_CHILDREN,
  cgroup: NSGUARD_NS_CGROUP,
  user: NSGUARD_NS_USER,
};

const utf8 = new TextEncoder();

/** A seed as struct nsguard_proc (map nsguard_procs, key: the tgid). */
export function procValue(p: KernelProcessSeed): StructValue<"nsguard_proc"> {
  const execNs = new Array<number>(NSGUARD_NS_COUNT).fill(0);
  for (const [field, slot] of Object.entries(NS_SLOTS)) execNs[slot] = p.execNs[field as keyof RawNamespaces];
  // The kernel reads at most NSGUARD_STRING_LEN - 1 bytes of the exec'd path (and a NUL); a
  // longer one is cut the same way, so a Prefix filter matches a seeded process as an exec'd one.
  const binary = utf8.encode(p.binary).subarray(0, NSGUARD_STRING_LEN - 1);
  return {
    key: { pid: p.pid, ktime: p.ktime },
    parent: { pid: p.parentPid, ktime: p.parentKtime },
    nspid: p.nspid,
    flags: p.flags,
    // enum nsguard_cap_set order
    exec_caps: [p.execCaps.effective, p.execCaps.inheritable, p.execCaps.permitted],
    exec_ns: execNs,
    binary_len: binary.length,
    binary,
  };
}
