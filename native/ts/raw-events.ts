// Typed records decoded by RecordBatch.decode() (record-batch.ts) from bpf/include/nsguard_events.h.
// Field meanings are documented on the C structs.

/** Identity of a process in the kernel table: host tgid + boot-clock ns of its clone/exec. */
export interface RawProcessKey {
  pid: number;
  /** 0n when the kernel did not know the process (it started before the sensor). */
  ktime: bigint;
}

/** Namespace inums in tetragon.Namespaces field order. */
export interface RawNamespaces {
  uts: number;
  ipc: number;
  mnt: number;
  pid: number;
  pidForChildren: number;
  net: number;
  time: number;
  timeForChildren: number;
  cgroup: number;
  user: number;
}

export interface RawTask {
  key: RawProcessKey;
  pid: number;
  tid: number;
  ppid: number;
  /** tgid inside its own pid namespace; 0 in the initial pid namespace. */
  nspid: number;
  uid: number;
  euid: number;
  gid: number;
  auid: number;
  cgroupId: bigint;
  ns: RawNamespaces;
  comm: string;
}

/** A task's credentials (struct nsguard_creds): capability sets as kernel_cap_t bit masks. */
export interface RawCreds {
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

export interface RawExecEvent {
  op: "exec";
  /** bpf_ktime_get_boot_ns() at the event. */
  ktime: bigint;
  task: RawTask;
  parent: RawProcessKey;
  /** NSGUARD_FLAG_* bits (Tetragon's exec flag bits). */
  flags: number;
  filename: string;
  /** argv[1..] */
  args: string[];
  cwd: string;
  /** Last path component of the task's cgroup (container id source). */
  cgroupName: string;
  /** The new image's credentials. */
  creds: RawCreds;
}

export interface RawCloneEvent {
  op: "clone";
  ktime: bigint;
  task: RawTask;
  parent: RawProcessKey;
  /** NSGUARD_FLAG_CLONE, with NSGUARD_FLAG_IN_INIT_TREE when the child is in its init's tree. */
  flags: number;
  /** The child's credentials (a copy of the parent's at fork). */
  creds: RawCreds;
}

export interface RawExitEvent {
  op: "exit";
  ktime: bigint;
  task: RawTask;
  /** Wait status: (code << 8) | signal. */
  exitCode: number;
}

export type RawFdKind = "unknown" | "nsfs" | "pidfd" | "other";

export interface RawSyscallEvent {
  op: "syscall";
  ktime: bigint;
  task: RawTask;
  /** Attach cookie: identifies the policy hook that fired. */
  hookId: number;
  syscallNr: number;
  /** tetragon.KprobeAction value taken in the kernel (1 = POST, 3 = SIGKILL). */
  action: number;
  /** 1-based index of the selector that matched; 0 when the hook has no selectors. */
  selector: number;
  /** Raw syscall argument registers. */
  args: bigint[];
  fdKind: RawFdKind;
  /** Namespace inum the fd argument refers to (nsfs), else 0. */
  fdNsInum: number;
  /** bpf_send_signal() result for SIGKILL (0 = delivered). */
  signalErr: number;
  /** Came through the 32-bit entry (int 0x80); syscallNr is then the ia32 number. */
  compat: boolean;
  /** What a namespace call changes (kinds 0 for other hooks). */
  nsChange: RawNamespaceChange;
  /** The strings the kernel read for the hook's string, file and buffer arguments, by slot. */
  strings: RawArgString[];
  /**
   * Records of `return: true` hooks, made at the call's return: what the syscall returned (a
   * result, or -errno) and the tetragon.KprobeAction taken there (matchReturnActions).
   */
  return?: { value: bigint; action: number };
}

/** A string argument as the kernel read it at the call (struct nsguard_arg_string). */
export interface RawArgString {
  /** At most NSGUARD_STRING_LEN bytes, no NUL. */
  bytes: Uint8Array;
  /** The argument was longer (or, for char_buf, its size larger) than what was read. */
  truncated: boolean;
  /** It could not be read (bad pointer, closed descriptor). */
  error: boolean;
}

/**
 * A namespace call's change, resolved in the kernel at the call (struct nsguard_syscall_event
 * ns_*). Kind sets are bit masks over nsIndex slots: bit (1 << nativeConstants.nsIndex.net) is net.
 */
export interface RawNamespaceChange {
  /** Kinds the call changes. */
  kinds: number;
  /** Of kinds: created (unshare, clone); the others are entered (setns). */
  created: number;
  /** Of kinds entered: the target is the host's namespace. */
  toHost: number;
  /** Of kinds: the caller's namespace of that kind is the host's. */
  fromHost: number;
  /** Inums of the namespaces entered, by nsIndex slot (0 where none). */
  target: number[];
  /** The caller's namespace inums before the call, by nsIndex slot (the record's task.ns). */
  before: number[];
}

export type RawEvent = RawExecEvent | RawCloneEvent | RawExitEvent | RawSyscallEvent;
