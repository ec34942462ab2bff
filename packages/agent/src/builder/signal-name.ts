/**
 * Linux signal names for `ProcessExit.signal`, as Go's unix.SignalName prints them (the same on
 * x86-64 and arm64). Numbers without a name (real-time signals) print as "".
 */
const NAMES: readonly string[] = [
  "",
  "SIGHUP",
  "SIGINT",
  "SIGQUIT",
  "SIGILL",
  "SIGTRAP",
  "SIGABRT",
  "SIGBUS",
  "SIGFPE",
  "SIGKILL",
  "SIGUSR1",
  "SIGSEGV",
  "SIGUSR2",
  "SIGPIPE",
  "SIGALRM",
  "SIGTERM",
  "SIGSTKFLT",
  "SIGCHLD",
  "SIGCONT",
  "SIGSTOP",
  "SIGTSTP",
  "SIGTTIN",
  "SIGTTOU",
  "SIGURG",
  "SIGXCPU",
  "SIGXFSZ",
  "SIGVTALRM",
  "SIGPROF",
  "SIGWINCH",
  "SIGIO",
  "SIGPWR",
  "SIGSYS",
];

export function signalName(signal: number): string {
  return NAMES[signal] ?? "";
}

/**
 * A wait status ((code << 8) | signal, bit 7 = core dumped) → Tetragon's exit fields:
 * `status` is the status shifted right by 8, `signal` the name of the terminating signal
 * (the low 7 bits when the core-dump bit is set), "" when the process exited normally.
 */
export function decodeWaitStatus(waitStatus: number): { status: number; signal: string } {
  const low = waitStatus & 0xff;
  const signal = (low & 0x80) !== 0 ? low & 0x7f : low;
  return { status: waitStatus >>> 8, signal: signalName(signal) };
}
