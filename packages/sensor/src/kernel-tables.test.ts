// SPDX-License-Identifier: Apache-2.0
import {
  encodeStruct,
  NSGUARD_ACTION_POST,
  NSGUARD_ACTION_SIGKILL,
  NSGUARD_ACTION_SIGNAL,
  NSGUARD_ARG_EQUAL,
  NSGUARD_ARG_FLAG_32BIT,
  NSGUARD_ARG_FLAG_SIGNED,
  NSGUARD_ARG_FLAG_STRING,
  NSGUARD_ARG_MASK,
  NSGUARD_ARG_NOT_POSTFIX,
  NSGUARD_ARG_PREFIX,
  NSGUARD_CAP_FLAG_NAMESPACED,
  NSGUARD_CAP_INHERITABLE,
  NSGUARD_CAP_PERMITTED,
  NSGUARD_FILTER_IN,
  NSGUARD_FILTER_NOTIN,
  NSGUARD_HOOK_FLAG_CHANGE_FIRST,
  NSGUARD_HOOK_FLAG_RETURN,
  NSGUARD_HOOK_FLAG_STRINGS_FIRST,
  NSGUARD_NS_CALL_NONE,
  NSGUARD_NS_CALL_SETNS,
  NSGUARD_NS_FILTER_HOST,
  NSGUARD_NS_MNT,
  NSGUARD_NS_NET,
  NSGUARD_NS_PID,
  NSGUARD_NS_USER,
  NSGUARD_PID_FLAG_FOLLOW,
  NSGUARD_PID_FLAG_NSPID,
  NSGUARD_RATE_PROCESS,
  NSGUARD_RATE_THREAD,
  NSGUARD_STRING_CHAR_BUF,
  NSGUARD_STRING_FD_PATH,
  NSGUARD_STRING_LEN,
  NSGUARD_STRING_USER,
  structs,
} from "@nsguard/kernel-contract";
import { compileTracingPolicy, parseTracingPolicy } from "@nsguard/policy";
import { describe, expect, it } from "vitest";
import { hookValue, procValue, syscallHooksValue } from "./kernel-tables.js";

const POLICY = `
apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: { name: kill-netns }
spec:
  kprobes:
  - call: sys_setns
    syscall: true
    args: [{ index: 0, type: int }, { index: 1, type: int }]
    selectors:
    - matchPIDs: [{ operator: NotIn, followForks: true, isNamespacePID: true, values: [1, 2] }]
      matchArgs: [{ index: 1, operator: Mask, values: ["0x40000000"] }]
      matchActions: [{ action: Sigkill }]
`;

// Every selector of the kernel policy engine in one hook: strings read at the call, a binary
// filter with followChildren, namespaces with host_ns, capabilities, namespace changes, the host
// entry extension and a signal; a second selector with a rate-limited Post.
const ENGINE_POLICY = `
apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: { name: engine }
spec:
  kprobes:
  - call: sys_setns
    syscall: true
    args: [{ index: 0, type: fd }, { index: 1, type: int }]
    selectors:
    - matchArgs:
      - { index: 1, operator: Mask, values: ["0x40000000"] }
      - { index: 0, operator: Prefix, values: ["net:"] }
      matchBinaries: [{ operator: In, values: [/usr/bin/nsenter], followChildren: true }]
      matchNamespaces:
      - { namespace: Pid, operator: NotIn, values: [host_ns] }
      - { namespace: Net, operator: In, values: ["4026531840", "7"] }
      matchCapabilities:
      - { type: Permitted, operator: In, isNamespaceCapability: true, values: [CAP_SYS_ADMIN, CAP_CHOWN] }
      matchCapabilityChanges: [{ type: Inheritable, operator: NotIn, values: [CAP_NET_ADMIN] }]
      matchNamespaceChanges: [{ operator: In, values: [Mnt, User] }]
      matchHostNamespaceEntry: [{ operator: NotIn, values: [Net] }]
      matchActions: [{ action: Signal, argSig: 10 }]
    - matchBinaries: [{ operator: NotPostfix, values: [/runc] }]
      matchActions: [{ action: Post, rateLimit: 5m, rateLimitScope: process }]
`;

/** Reads a u32/s32/u64 of an encoded struct at a field path's offset. */
function at(bytes: Uint8Array, offset: number, width: 4 | 8, signed = false): number | bigint {
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  if (width === 8) return view.getBigUint64(offset, true);
  return signed ? view.getInt32(offset, true) : view.getUint32(offset, true);
}

describe("kernel tables", () => {
  it("puts a compiled policy's hook table where the BPF evaluator reads it (struct nsguard_hook)", () => {
    const [hook] = compileTracingPolicy(parseTracingPolicy(POLICY)).hooks;
    if (!hook) throw new Error("no hook");
    const bytes = encodeStruct("nsguard_hook", hookValue(hook, []));
    const H = structs.nsguard_hook.fields;
    const S = structs.nsguard_selector.fields;
    const P = structs.nsguard_pid_filter.fields;
    const A = structs.nsguard_arg_filter.fields;
    const sel = H.selectors.offset;
    expect(at(bytes, H.enabled.offset, 4)).toBe(1);
    expect(at(bytes, H.selector_count.offset, 4)).toBe(1);
    expect(at(bytes, H.ns_call.offset, 4)).toBe(NSGUARD_NS_CALL_SETNS);
    // Both declared int arguments key a Post rateLimit; registers 2..5 do not.
    expect(at(bytes, H.rate_args.offset, 4)).toBe(0b11);
    expect(at(bytes, sel + S.action.offset, 4)).toBe(NSGUARD_ACTION_SIGKILL);
    const pids = sel + S.pids.offset;
    expect(at(bytes, pids + P.op.offset, 4)).toBe(NSGUARD_FILTER_NOTIN);
    expect(at(bytes, pids + P.flags.offset, 4)).toBe(NSGUARD_PID_FLAG_NSPID | NSGUARD_PID_FLAG_FOLLOW);
    expect(at(bytes, pids + P.count.offset, 4)).toBe(2);
    expect([at(bytes, pids + P.values.offset, 4), at(bytes, pids + P.values.offset + 4, 4)]).toEqual([1, 2]);
    expect(at(bytes, sel + S.arg_count.offset, 4)).toBe(1);
    const arg = sel + S.args.offset;
    expect(at(bytes, arg + A.op.offset, 4)).toBe(NSGUARD_ARG_MASK);
    expect(at(bytes, arg + A.index.offset, 4)).toBe(1);
    expect(at(bytes, arg + A.count.offset, 4)).toBe(1);
    expect((at(bytes, arg + A.flags.offset, 4) as number) & NSGUARD_ARG_FLAG_32BIT).toBe(
      NSGUARD_ARG_FLAG_32BIT,
    );
    expect(at(bytes, arg + A.values.offset, 8)).toBe(0x40000000n);
  });

  it("encodes every selector of the policy engine, and the sensor's filter ids, where the evaluator reads them", () => {
    const [hook] = compileTracingPolicy(parseTracingPolicy(ENGINE_POLICY)).hooks;
    if (hook === undefined) throw new Error("no hook");
    const ids = [
      { args: [0, 7], binary: 5, followBit: 3 },
      { args: [], binary: 6, followBit: 0 },
    ];
    const bytes = encodeStruct("nsguard_hook", hookValue(hook, ids, 11));
    const H = structs.nsguard_hook.fields;
    const SA = structs.nsguard_string_arg;
    const S = structs.nsguard_selector;
    const A = structs.nsguard_arg_filter;
    const B = structs.nsguard_binary_filter.fields;
    const N = structs.nsguard_ns_filter;
    const C = structs.nsguard_cap_filter;

    expect(at(bytes, H.selector_count.offset, 4)).toBe(2);
    expect(at(bytes, H.fd_arg.offset, 4, true)).toBe(0);
    expect(at(bytes, H.ns_call.offset, 4)).toBe(NSGUARD_NS_CALL_SETNS);
    // A selector compares the call's namespace change and one its fd's path: both are read first.
    expect(at(bytes, H.flags.offset, 4)).toBe(
      NSGUARD_HOOK_FLAG_CHANGE_FIRST | NSGUARD_HOOK_FLAG_STRINGS_FIRST,
    );
    expect(at(bytes, H.scope_id.offset, 4)).toBe(11);
    expect(at(bytes, H.string_count.offset, 4)).toBe(1);
    const str = H.strings.offset;
    expect(at(bytes, str + SA.fields.kind.offset, 4)).toBe(NSGUARD_STRING_FD_PATH);
    expect(at(bytes, str + SA.fields.index.offset, 4)).toBe(0);
    expect(at(bytes, str + SA.fields.size_arg.offset, 4, true)).toBe(-1);
    expect(at(bytes, str + SA.size + SA.fields.kind.offset, 4)).toBe(0);

    const sel = H.selectors.offset;
    expect(at(bytes, sel + S.fields.action.offset, 4)).toBe(NSGUARD_ACTION_SIGNAL);
    expect(at(bytes, sel + S.fields.signal.offset, 4)).toBe(10);
    expect(at(bytes, sel + S.fields.rate_limit_ns.offset, 8)).toBe(0n);
    expect(at(bytes, sel + S.fields.arg_count.offset, 4)).toBe(2);
    const intArg = sel + S.fields.args.offset;
    expect(at(bytes, intArg + A.fields.op.offset, 4)).toBe(NSGUARD_ARG_MASK);
    expect(at(bytes, intArg + A.fields.flags.offset, 4)).toBe(
      NSGUARD_ARG_FLAG_32BIT | NSGUARD_ARG_FLAG_SIGNED,
    );
    expect(at(bytes, intArg + A.fields.filter_id.offset, 4)).toBe(0);
    const strArg = intArg + A.size;
    expect(at(bytes, strArg + A.fields.op.offset, 4)).toBe(NSGUARD_ARG_PREFIX);
    expect(at(bytes, strArg + A.fields.index.offset, 4)).toBe(0);
    expect(at(bytes, strArg + A.fields.flags.offset, 4)).toBe(NSGUARD_ARG_FLAG_STRING);
    expect(at(bytes, strArg + A.fields.filter_id.offset, 4)).toBe(7);
    expect(at(bytes, strArg + A.fields.string_slot.offset, 4)).toBe(0);
    // String values live in the string maps, not in the selector.
    expect(at(bytes, strArg + A.fields.count.offset, 4)).toBe(0);

    const bin = sel + S.fields.binary.offset;
    expect(at(bytes, bin + B.op.offset, 4)).toBe(NSGUARD_ARG_EQUAL);
    expect(at(bytes, bin + B.filter_id.offset, 4)).toBe(5);
    expect(at(bytes, bin + B.follow_bit.offset, 4)).toBe(3);

    expect(at(bytes, sel + S.fields.ns_count.offset, 4)).toBe(2);
    const pidNs = sel + S.fields.ns.offset;
    expect(at(bytes, pidNs + N.fields.kind.offset, 4)).toBe(NSGUARD_NS_PID);
    expect(at(bytes, pidNs + N.fields.op.offset, 4)).toBe(NSGUARD_FILTER_NOTIN);
    expect(at(bytes, pidNs + N.fields.count.offset, 4)).toBe(0);
    expect(at(bytes, pidNs + N.fields.flags.offset, 4)).toBe(NSGUARD_NS_FILTER_HOST);
    const netNs = pidNs + N.size;
    expect(at(bytes, netNs + N.fields.kind.offset, 4)).toBe(NSGUARD_NS_NET);
    expect(at(bytes, netNs + N.fields.op.offset, 4)).toBe(NSGUARD_FILTER_IN);
    expect(at(bytes, netNs + N.fields.count.offset, 4)).toBe(2);
    expect(at(bytes, netNs + N.fields.flags.offset, 4)).toBe(0);
    expect([
      at(bytes, netNs + N.fields.values.offset, 4),
      at(bytes, netNs + N.fields.values.offset + 4, 4),
    ]).toEqual([4026531840, 7]);

    expect(at(bytes, sel + S.fields.cap_count.offset, 4)).toBe(1);
    const cap = sel + S.fields.caps.offset;
    expect(at(bytes, cap + C.fields.set.offset, 4)).toBe(NSGUARD_CAP_PERMITTED);
    expect(at(bytes, cap + C.fields.op.offset, 4)).toBe(NSGUARD_FILTER_IN);
    expect(at(bytes, cap + C.fields.flags.offset, 4)).toBe(NSGUARD_CAP_FLAG_NAMESPACED);
    expect(at(bytes, cap + C.fields.mask.offset, 8)).toBe((1n << 21n) | 1n);
    expect(at(bytes, sel + S.fields.cap_change_count.offset, 4)).toBe(1);
    const capChange = sel + S.fields.cap_changes.offset;
    expect(at(bytes, capChange + C.fields.set.offset, 4)).toBe(NSGUARD_CAP_INHERITABLE);
    expect(at(bytes, capChange + C.fields.op.offset, 4)).toBe(NSGUARD_FILTER_NOTIN);
    expect(at(bytes, capChange + C.fields.flags.offset, 4)).toBe(0);
    expect(at(bytes, capChange + C.fields.mask.offset, 8)).toBe(1n << 12n);

    expect(at(bytes, sel + S.fields.ns_change_op.offset, 4)).toBe(NSGUARD_FILTER_IN);
    expect(at(bytes, sel + S.fields.ns_change_kinds.offset, 4)).toBe(
      (1 << NSGUARD_NS_MNT) | (1 << NSGUARD_NS_USER),
    );
    expect(at(bytes, sel + S.fields.host_entry_op.offset, 4)).toBe(NSGUARD_FILTER_NOTIN);
    expect(at(bytes, sel + S.fields.host_entry_kinds.offset, 4)).toBe(1 << NSGUARD_NS_NET);

    const second = sel + S.size;
    expect(at(bytes, second + S.fields.action.offset, 4)).toBe(NSGUARD_ACTION_POST);
    expect(at(bytes, second + S.fields.signal.offset, 4)).toBe(0);
    expect(at(bytes, second + S.fields.rate_limit_ns.offset, 8)).toBe(300_000_000_000n);
    expect(at(bytes, second + S.fields.rate_scope.offset, 4)).toBe(NSGUARD_RATE_PROCESS);
    expect(at(bytes, second + S.fields.binary.offset + B.op.offset, 4)).toBe(NSGUARD_ARG_NOT_POSTFIX);
    expect(at(bytes, second + S.fields.binary.offset + B.filter_id.offset, 4)).toBe(6);
    expect(at(bytes, second + S.fields.binary.offset + B.follow_bit.offset, 4)).toBe(0);
    // Unused filters stay op 0: the evaluator skips them.
    for (const field of [
      "ns_count",
      "cap_count",
      "cap_change_count",
      "ns_change_op",
      "host_entry_op",
      "arg_count",
    ] as const) {
      expect(at(bytes, second + S.fields[field].offset, 4), field).toBe(0);
    }
  });

  it("encodes string reads (char_buf's size argument); without a host-entry or string filter nothing is read before the selectors", () => {
    const text = POLICY.replace("sys_setns", "sys_write")
      .replace(
        "args: [{ index: 0, type: int }, { index: 1, type: int }]",
        "args: [{ index: 0, type: string }, { index: 1, type: char_buf, sizeArgIndex: 3 }]",
      )
      .replace('matchArgs: [{ index: 1, operator: Mask, values: ["0x40000000"] }]', "matchArgs: []")
      .replace("Sigkill", "Post, rateLimit: '30'");
    const [hook] = compileTracingPolicy(parseTracingPolicy(text)).hooks;
    if (hook === undefined) throw new Error("no hook");
    const bytes = encodeStruct("nsguard_hook", hookValue(hook, []));
    const H = structs.nsguard_hook.fields;
    const SA = structs.nsguard_string_arg;
    const S = structs.nsguard_selector.fields;
    expect(at(bytes, H.ns_call.offset, 4)).toBe(NSGUARD_NS_CALL_NONE);
    expect(at(bytes, H.flags.offset, 4)).toBe(0);
    expect(at(bytes, H.fd_arg.offset, 4, true)).toBe(-1);
    expect(at(bytes, H.scope_id.offset, 4)).toBe(0);
    expect(at(bytes, H.string_count.offset, 4)).toBe(2);
    const str = H.strings.offset;
    expect(at(bytes, str + SA.fields.kind.offset, 4)).toBe(NSGUARD_STRING_USER);
    expect(at(bytes, str + SA.fields.size_arg.offset, 4, true)).toBe(-1);
    expect(at(bytes, str + SA.size + SA.fields.kind.offset, 4)).toBe(NSGUARD_STRING_CHAR_BUF);
    expect(at(bytes, str + SA.size + SA.fields.index.offset, 4)).toBe(1);
    expect(at(bytes, str + SA.size + SA.fields.size_arg.offset, 4, true)).toBe(2);
    const sel = H.selectors.offset;
    expect(at(bytes, sel + S.action.offset, 4)).toBe(NSGUARD_ACTION_POST);
    expect(at(bytes, sel + S.rate_limit_ns.offset, 8)).toBe(30_000_000_000n);
    expect(at(bytes, sel + S.rate_scope.offset, 4)).toBe(NSGUARD_RATE_THREAD);
  });

  it("refuses more hooks on one syscall than struct nsguard_syscall_hooks holds", () => {
    const ids = Array.from(
      { length: structs.nsguard_syscall_hooks.fields.hook_ids.length + 1 },
      (_, i) => i + 1,
    );
    expect(() =>
      encodeStruct("nsguard_syscall_hooks", syscallHooksValue({ native: ids, compat: [] })),
    ).toThrow(/nsguard_syscall_hooks\.hook_ids: 9 elements do not fit u32\[8\]/);
  });

  it("seeds a process as struct nsguard_proc", () => {
    const ns = { uts: 11, ipc: 12, mnt: 13, pid: 14, pidForChildren: 15, net: 16, time: 17 };
    const seed = {
      pid: 42,
      ktime: 7n,
      parentPid: 1,
      parentKtime: 3n,
      nspid: 5,
      flags: 4,
      binary: "/usr/bin/nsenter",
      execNs: { ...ns, timeForChildren: 18, cgroup: 19, user: 20 },
      execCaps: { effective: 0x200000n, inheritable: 1n, permitted: 0x1ffffffffffn },
    };
    const bytes = encodeStruct("nsguard_proc", procValue(seed));
    const F = structs.nsguard_proc.fields;
    const K = structs.nsguard_process_key.fields;
    expect(at(bytes, F.key.offset + K.pid.offset, 4)).toBe(42);
    expect(at(bytes, F.key.offset + K.ktime.offset, 8)).toBe(7n);
    expect(at(bytes, F.parent.offset + K.pid.offset, 4)).toBe(1);
    expect(at(bytes, F.parent.offset + K.ktime.offset, 8)).toBe(3n);
    expect([at(bytes, F.nspid.offset, 4), at(bytes, F.flags.offset, 4)]).toEqual([5, 4]);
    // exec_ns in enum nsguard_ns_index order, exec_caps in enum nsguard_cap_set order.
    const execNs = Array.from({ length: 10 }, (_, i) => at(bytes, F.exec_ns.offset + 4 * i, 4));
    expect(execNs).toEqual([11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
    const caps = [0, 1, 2].map((i) => at(bytes, F.exec_caps.offset + 8 * i, 8));
    expect(caps).toEqual([0x200000n, 1n, 0x1ffffffffffn]);
    expect(at(bytes, F.binary_len.offset, 4)).toBe(16);
    expect(Buffer.from(bytes.subarray(F.binary.offset, F.binary.offset + 17)).toString("latin1")).toBe(
      "/usr/bin/nsenter\0",
    );
  });

  it("cuts a seed's binary as the kernel cuts an exec'd path: NSGUARD_STRING_LEN - 1 bytes", () => {
    const seed = {
      pid: 1,
      ktime: 0n,
      parentPid: 0,
      parentKtime: 0n,
      nspid: 0,
      flags: 0,
      binary: `/${"x".repeat(400)}`,
      execNs: {
        uts: 0,
        ipc: 0,
        mnt: 0,
        pid: 0,
        pidForChildren: 0,
        net: 0,
        time: 0,
        timeForChildren: 0,
        cgroup: 0,
        user: 0,
      },
      execCaps: { effective: 0n, inheritable: 0n, permitted: 0n },
    };
    const bytes = encodeStruct("nsguard_proc", procValue(seed));
    const F = structs.nsguard_proc.fields;
    expect(at(bytes, F.binary_len.offset, 4)).toBe(NSGUARD_STRING_LEN - 1);
    expect(bytes[F.binary.offset + NSGUARD_STRING_LEN - 1]).toBe(0);
  });

  it("encodes a return hook: the hook flag, matchReturnArgs on the return value and the return action", () => {
    const text = `
apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: { name: failed-setns }
spec:
  kprobes:
  - call: sys_setns
    return: true
    returnArg: { index: 0, type: int }
    selectors:
    - matchReturnArgs: [{ operator: Equal, values: ["-9", "-1"] }]
      matchReturnActions: [{ action: Sigkill }]
`;
    const [hook] = compileTracingPolicy(parseTracingPolicy(text)).hooks;
    const bytes = encodeStruct("nsguard_hook", hookValue(hook as NonNullable<typeof hook>, []));
    const H = structs.nsguard_hook.fields;
    const S = structs.nsguard_selector.fields;
    const A = structs.nsguard_arg_filter.fields;
    const sel = H.selectors.offset;
    expect((at(bytes, H.flags.offset, 4) as number) & NSGUARD_HOOK_FLAG_RETURN).toBe(
      NSGUARD_HOOK_FLAG_RETURN,
    );
    expect(at(bytes, sel + S.return_arg_count.offset, 4)).toBe(1);
    expect(at(bytes, sel + S.return_action.offset, 4)).toBe(NSGUARD_ACTION_SIGKILL);
    const ret = sel + S.return_args.offset;
    expect(at(bytes, ret + A.op.offset, 4)).toBe(NSGUARD_ARG_EQUAL);
    expect(at(bytes, ret + A.count.offset, 4)).toBe(2);
    expect(at(bytes, ret + A.flags.offset, 4)).toBe(NSGUARD_ARG_FLAG_32BIT | NSGUARD_ARG_FLAG_SIGNED);
    expect([at(bytes, ret + A.values.offset, 8), at(bytes, ret + A.values.offset + 8, 8)]).toEqual([
      BigInt.asUintN(64, -9n),
      BigInt.asUintN(64, -1n),
    ]);
  });
});
