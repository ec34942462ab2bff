/**
 * Tetragon's process identity string (pkg/process/process_id_linux.go):
 * `exec_id = base64("<node>:<ktime>:<pid>")`, standard alphabet with padding.
 *
 * `ktime` is the boot-clock nanosecond timestamp of the process's clone/exec (or, for
 * processes found in /proc at start-up, starttime × 1e9 / CLK_TCK), and `pid` is the host tgid.
 * Because ktime is part of the id, a pid that is reused later gets a different exec_id.
 */
export function execId(node: string, ktime: bigint, pid: number): string {
  return Buffer.from(`${node}:${ktime}:${pid}`, "utf8").toString("base64");
}

/**
 * The parent id Tetragon gives a process whose parent pid is 0 (the kernel's swapper, i.e.
 * init and kthreadd): `GetProcessID(0, 1)`, so the id is base64("<node>:1:0").
 */
export function rootParentExecId(node: string): string {
  return execId(node, 1n, 0);
}

export interface DecodedExecId {
  node: string;
  ktime: bigint;
  pid: number;
}

/**
 * Inverse of {@link execId}, for debugging and for clients that only hold an id. The node name
 * is everything before the last two colons, so node names containing `:` still decode.
 * Returns undefined for strings that are not exec ids.
 */
export function decodeExecId(id: string): DecodedExecId | undefined {
  const text = Buffer.from(id, "base64").toString("utf8");
  const pidSep = text.lastIndexOf(":");
  const ktimeSep = text.lastIndexOf(":", pidSep - 1);
  if (pidSep < 0 || ktimeSep < 0) return undefined;
  const ktimeText = text.slice(ktimeSep + 1, pidSep);
  const pidText = text.slice(pidSep + 1);
  if (!/^\d+$/.test(ktimeText) || !/^\d+$/.test(pidText)) return undefined;
  return { node: text.slice(0, ktimeSep), ktime: BigInt(ktimeText), pid: Number(pidText) };
}
