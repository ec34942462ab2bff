import type { RawArgString, RawNamespaceChange } from "@nsguard/sensor";
import type { SyscallInput, TaskInput } from "../process/raw-input.js";

/**
 * A syscall record for builder tests, from the task and registers a kernel record would carry
 * (what the native RecordBatch's syscall view reads in place).
 */
export function syscallInput(record: {
  ktime: bigint;
  task: TaskInput;
  action: number;
  args: bigint[];
  /** What the kernel resolved for a namespace call; absent for other hooks. */
  nsChange?: RawNamespaceChange;
  fdKind?: SyscallInput["fdKind"];
  /** Strings the kernel read (string, file, buffer arguments), by slot. */
  strings?: RawArgString[];
  /** A record made at the return (return: true hooks): the return value and the action there. */
  returned?: { value: bigint; action: number };
}): SyscallInput {
  const { ktime, task, action, args, nsChange } = record;
  return {
    ktime,
    keyPid: task.key.pid,
    keyKtime: task.key.ktime,
    pid: task.pid,
    tid: task.tid,
    uid: task.uid,
    auid: task.auid,
    action,
    arg: (index) => args[index] ?? 0n,
    nsKinds: nsChange?.kinds ?? 0,
    nsChange: () => {
      if (!nsChange) throw new Error("not a namespace call");
      return nsChange;
    },
    fdKind: record.fdKind ?? "unknown",
    string: (slot) => record.strings?.[slot],
    returnValue: record.returned?.value,
    returnAction: record.returned?.action ?? 0,
  };
}
