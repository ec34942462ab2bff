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
}): SyscallInput {
  const { ktime, task, action, args } = record;
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
  };
}
