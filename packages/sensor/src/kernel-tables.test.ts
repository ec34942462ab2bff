// SPDX-License-Identifier: Apache-2.0
import {
  encodeStruct,
  NSGUARD_ACTION_SIGKILL,
  NSGUARD_ARG_EQUAL,
  NSGUARD_ARG_FLAG_32BIT,
  NSGUARD_ARG_FLAG_SIGNED,
  NSGUARD_ARG_MASK,
  NSGUARD_FILTER_NOTIN,
  NSGUARD_HOOK_FLAG_RETURN,
  NSGUARD_NS_CALL_SETNS,
  NSGUARD_PID_FLAG_FOLLOW,
  NSGUARD_PID_FLAG_NSPID,
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

/** Reads a u32/s32/u64 of an encoded struct at a field path's offset. */
function at(bytes: Uint8Array, offset: number, width: 4 | 8, signed = false): number | bigint {
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  if (width === 8) return view.getBigUint64(offset, true);
  return signed ? view.getInt32(offset, true) : view.getUint32(offset, true);
}

describe("kernel tables", () => {
  it("puts a compiled policy's hook table where the BPF evaluator reads it (struct nsguard_hook)", () => {
    const [hook] = compileTracingPolicy(parseTracingPolicy(POLICY)).hooks;
    const bytes = encodeStruct(
      "nsguard_hook",
      hookValue(hook?.table as NonNullable<typeof hook>["table"], []),
    );
    const H = structs.nsguard_hook.fields;
    const S = structs.nsguard_selector.fields;
    const P = structs.nsguard_pid_filter.fields;
    const A = structs.nsguard_arg_filter.fields;
    const sel = H.selectors.offset;
    expect(at(bytes, H.enabled.offset, 4)).toBe(1);
    expect(at(bytes, H.selector_count.offset, 4)).toBe(1);
    expect(at(bytes, H.ns_call.offset, 4)).toBe(NSGUARD_NS_CALL_SETNS);
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
    const seed = { pid: 42, ktime: 7n, parentPid: 1, parentKtime: 3n, nspid: 5, flags: 4 };
    const bytes = encodeStruct("nsguard_proc", procValue(seed));
    const F = structs.nsguard_proc.fields;
    const K = structs.nsguard_process_key.fields;
    expect(at(bytes, F.key.offset + K.pid.offset, 4)).toBe(42);
    expect(at(bytes, F.key.offset + K.ktime.offset, 8)).toBe(7n);
    expect(at(bytes, F.parent.offset + K.pid.offset, 4)).toBe(1);
    expect(at(bytes, F.parent.offset + K.ktime.offset, 8)).toBe(3n);
    expect([at(bytes, F.nspid.offset, 4), at(bytes, F.flags.offset, 4)]).toEqual([5, 4]);
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
    const bytes = encodeStruct(
      "nsguard_hook",
      hookValue(hook?.table as NonNullable<typeof hook>["table"], []),
    );
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
