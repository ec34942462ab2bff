/**
 * The parts of the kernel's raw records that the process cache and the event builder read.
 *
 * These mirror @nsguard/native's RawExecEvent/RawCloneEvent/RawExitEvent/RawSyscallEvent
 * (native/ts/raw-events.ts, re-exported by @nsguard/sensor as RawEvent) field for field, but
 * only the fields used here: the agent states what it consumes, the real records are assignable
 * to these types, and tests can build inputs without the native addon. If a field is renamed on
 * the native side, the daemon wiring that passes real records in stops compiling.
 */

import type { RawArgString, RawNamespaceChange, RawNamespaces } from "@nsguard/sensor";

/** Process identity in the kernel table. `ktime` 0n = the kernel did not know the process. */
export interface ProcessKeyInput {
  pid: number;
  ktime: bigint;
}

/** Namespace inums in tetragon.Namespaces field order. */
export type NamespaceInums = RawNamespaces;

export interface TaskInput {
  key: ProcessKeyInput;
  pid: number;
  tid: number;
  ppid: number;
  /** tgid inside its own pid namespace; 0 in the initial pid namespace. */
  nspid: number;
  uid: number;
  euid: number;
  auid: number;
  ns: NamespaceInums;
}

/** A task's credentials as the kernel read them at exec/clone (capability sets: bit masks). */
export interface CredsInput {
  uid: number;
  gid: number;
  euid: number;
  egid: number;
  suid: number;
  sgid: number;
  fsuid: number;
  fsgid: number;
  /** SECBIT_* bits. */
  securebits: number;
  capPermitted: bigint;
  capEffective: bigint;
  capInheritable: bigint;
}

export interface ExecInput {
  /** Boot-clock ns of the record. */
  ktime: bigint;
  task: TaskInput;
  parent: ProcessKeyInput;
  /** Tetragon exec flag bits (process/flags.ts ProcessFlag). */
  flags: number;
  filename: string;
  /** argv[1..] */
  args: string[];
  cwd: string;
  /** Last component of the task's cgroup path, from a 128-byte kernel buffer. */
  cgroupName: string;
  /** The new image's credentials (kernel records always have them). */
  creds?: CredsInput;
}

export interface CloneInput {
  ktime: bigint;
  /** The child. */
  task: TaskInput;
  /** The process it was forked from. */
  parent: ProcessKeyInput;
  /** Tetragon flag bits: CLONE, with IN_INIT_TREE when the child is in its init's tree. */
  flags?: number;
  /** The child's credentials at fork. */
  creds?: CredsInput;
}

export interface ExitInput {
  ktime: bigint;
  task: TaskInput;
  /** Wait status: (code << 8) | signal, bit 7 = core dumped. */
  exitCode: number;
}

/**
 * A syscall record, read in place: the native RecordBatch's reusable syscall view fits this
 * shape, so the hot path reads the few fields an event needs instead of decoding the record.
 */
export interface SyscallInput {
  readonly ktime: bigint;
  /** The kernel process table's key for the caller (keyKtime 0n: not tracked). */
  readonly keyPid: number;
  readonly keyKtime: bigint;
  readonly pid: number;
  readonly tid: number;
  readonly uid: number;
  readonly auid: number;
  /** tetragon.KprobeAction value taken in the kernel (1 POST, 3 SIGKILL). */
  readonly action: number;
  /** Raw syscall argument register `index`. */
  arg(index: number): bigint;
  /** String slot `slot` the kernel read (string, file and buffer arguments), if the record has it. */
  string(slot: number): RawArgString | undefined;
  /** Namespace kinds a namespace call changes (bits over namespace slots); 0 for other hooks. */
  readonly nsKinds: number;
  /** The namespace change in full; called only when nsKinds is not 0. */
  nsChange(): RawNamespaceChange;
  /** What setns's descriptor was. */
  readonly fdKind: "unknown" | "nsfs" | "pidfd" | "other";
  /** Records of `return: true` hooks, made at the return: what the syscall returned (-errno on failure). */
  readonly returnValue?: bigint | undefined;
  /** tetragon.KprobeAction taken at the return; 0 or absent for records made at the call. */
  readonly returnAction?: number;
}
