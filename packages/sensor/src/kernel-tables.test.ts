// SPDX-License-Identifier: Apache-2.0
import {
  encodeStruct,
  NSGUARD_ACTION_SIGKILL,
  NSGUARD_ARG_FLAG_32BIT,
  NSGUARD_ARG_MASK,
  NSGUARD_FILTER_NOTIN,
  NSGUARD_NS_CALL_SETNS,
  NSGUARD_PID_FLAG_FOLLOW,
  NSGUARD_PID_FLAG_NSPID,
  NSGUARD_STRING_LEN,
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
});
