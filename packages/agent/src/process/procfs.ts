import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import type { KernelProcessSeed } from "@nsguard/sensor";
import type { BootClock } from "../clock.js";
import { parseProcCgroup, pickContainerCgroupPath } from "../container/cgroup-reader.js";
import { containerIdFromCgroup } from "../container/container-id.js";
import { type PodInfoSource, podForProcess } from "../container/pod-info.js";
import { formatArguments } from "./arguments.js";
import { execId, rootParentExecId } from "./exec-id.js";
import { formatFlags, ProcessFlag } from "./flags.js";
import type { ProcessRecord } from "./process-record.js";
import type { CredsInput, NamespaceInums } from "./raw-input.js";

/**
 * Start-up scan of /proc: the processes that existed before the sensor, as Tetragon's procfs
 * reader (pkg/sensors/exec/procevents/proc_reader.go) sees them.
 */
export interface ProcfsOptions {
  nodeName: string;
  clock: BootClock;
  procRoot?: string;
  /** Clock ticks per second of /proc/<pid>/stat times; defaults to `getconf CLK_TCK`. */
  clkTck?: number;
  /** When given, container processes get their Pod. */
  podInfo?: PodInfoSource | undefined;
}

const UNSET_AUID = 4294967295;

/**
 * Flags of a process found in /proc. Tetragon prints "procFS auid" for these: `auid` is its
 * internal "audit id still to be resolved" bit, which it never clears on this path. Kept so that
 * filters written against Tetragon's output match ours.
 */
const PROCFS_FLAGS = ProcessFlag.PROCFS | ProcessFlag.NEEDS_AUID;

/** Every process in /proc, parents' exec ids filled in. Processes that vanish mid-scan are skipped. */
export function scanProcfs(options: ProcfsOptions): ProcessRecord[] {
  const procRoot = options.procRoot ?? "/proc";
  const raws: RawProc[] = [];
  for (const name of readdirSync(procRoot)) {
    if (!/^\d+$/.test(name)) continue;
    const raw = readRawProc(Number(name), procRoot, clkTckOf(options));
    if (raw) raws.push(raw);
  }
  const ktimeByPid = new Map(raws.map((r) => [r.pid, r.ktime]));
  const inInitTree = initTreeOf(raws);
  return raws.map((raw) => toRecord(raw, options, ktimeByPid, inInitTree.has(raw.pid)));
}

/**
 * One process read now (used for cache misses); undefined when it does not exist (any more).
 * Its parent's place in the init tree is not known here: `parentInInitTree` says it.
 */
export function readProcfsProcess(
  pid: number,
  options: ProcfsOptions,
  parentInInitTree = false,
): ProcessRecord | undefined {
  const raw = readRawProc(pid, options.procRoot ?? "/proc", clkTckOf(options));
  return raw ? toRecord(raw, options, new Map(), raw.nspid === 1 || parentInInitTree) : undefined;
}

/**
 * The pids in an init tree: Tetragon's procfs reader (procToKeyValue) gives the flag to a
 * process whose nspid is 1 or whose parent has it — the rule the kernel side applies at fork.
 * Resolved through the parent chain so the order of /proc does not matter.
 */
function initTreeOf(raws: readonly RawProc[]): Set<number> {
  const byPid = new Map(raws.map((r) => [r.pid, r]));
  const known = new Map<number, boolean>();
  const resolve = (start: RawProc): boolean => {
    const chain: RawProc[] = [];
    let answer = false;
    for (let p: RawProc | undefined = start; p; p = byPid.get(p.ppid)) {
      const seen = known.get(p.pid);
      if (seen !== undefined) {
        answer = seen;
        break;
      }
      if (p.nspid === 1) {
        answer = true;
        chain.push(p);
        break;
      }
      if (chain.includes(p)) break; // a pid-reuse loop mid-scan: not in a tree
      chain.push(p);
    }
    for (const p of chain) known.set(p.pid, answer);
    return answer;
  };
  for (const raw of raws) resolve(raw);
  return new Set([...known].filter(([, inTree]) => inTree).map(([pid]) => pid));
}

let cachedClkTck: number | undefined;

/** `getconf CLK_TCK`, read once; 100 (every Linux architecture we run on) if getconf fails. */
export function clockTicksPerSecond(): number {
  if (cachedClkTck === undefined) {
    try {
      const value = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8", timeout: 2000 }).trim());
      cachedClkTck = Number.isInteger(value) && value > 0 ? value : 100;
    } catch {
      cachedClkTck = 100;
    }
  }
  return cachedClkTck;
}

/** Namespaces unknown: 0 in every slot, which matchNamespaceChanges reads as "no base". */
const NO_NAMESPACES: NamespaceInums = {
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
};

/**
 * The kernel process-table seed for a scanned process: with its binary, namespaces and
 * capabilities, so matchBinaries, matchNamespaceChanges and matchCapabilityChanges judge a
 * process that predates the sensor as they judge one it saw exec.
 */
export function kernelSeedOf(record: ProcessRecord): KernelProcessSeed {
  const creds = record.creds;
  return {
    pid: record.pid,
    ktime: record.ktime,
    parentPid: record.parentPid,
    parentKtime: record.parentKtime,
    nspid: record.nspid,
    flags: PROCFS_FLAGS | (record.inInitTree ? ProcessFlag.IN_INIT_TREE : 0),
    // An absolute binary is readlink(/proc/PID/exe); otherwise it is argv[0] or comm (a kernel
    // thread, a zombie), which no exec'd path would be: unknown to the kernel.
    // exe of a binary deleted since its exec reads "PATH (deleted)"; the kernel stored PATH.
    binary: record.binary.startsWith("/") ? record.binary.replace(/ \(deleted\)$/, "") : "",
    execNs: record.ns ?? NO_NAMESPACES,
    execCaps: {
      effective: creds?.capEffective ?? 0n,
      inheritable: creds?.capInheritable ?? 0n,
      permitted: creds?.capPermitted ?? 0n,
    },
  };
}

interface RawProc {
  pid: number;
  ppid: number;
  ktime: bigint;
  comm: string;
  uid: number;
  euid: number;
  auid: number;
  nspid: number;
  argv: string[];
  exe: string | undefined;
  cwd: string | undefined;
  cgroupPath: string;
  ns: NamespaceInums;
  creds: CredsInput;
}

function clkTckOf(options: ProcfsOptions): number {
  return options.clkTck ?? clockTicksPerSecond();
}

function readRawProc(pid: number, procRoot: string, clkTck: number): RawProc | undefined {
  const dir = `${procRoot}/${pid}`;
  // stat, status and cmdline are essential: if any is gone, so is the process.
  const stat = tryRead(`${dir}/stat`);
  const status = stat === undefined ? undefined : tryRead(`${dir}/status`);
  const cmdline = status === undefined ? undefined : tryRead(`${dir}/cmdline`);
  if (stat === undefined || status === undefined || cmdline === undefined) return undefined;
  const parsed = parseStat(stat);
  if (!parsed) return undefined;

  const uids = statusIds(status, "Uid");
  const gids = statusIds(status, "Gid");
  const raw: RawProc = {
    pid,
    ppid: parsed.ppid,
    ktime: (parsed.startTicks * 1_000_000_000n) / BigInt(clkTck),
    comm: parsed.comm,
    uid: uids[0] ?? 0,
    euid: uids[1] ?? 0,
    auid: readLoginUid(dir),
    nspid: nspidFromStatus(status),
    argv: cmdline.split("\0").filter((arg, i, all) => i < all.length - 1 || arg !== ""),
    exe: tryReadlink(`${dir}/exe`),
    cwd: tryReadlink(`${dir}/cwd`),
    cgroupPath: pickContainerCgroupPath(parseProcCgroup(tryRead(`${dir}/cgroup`) ?? "")),
    ns: readNamespaces(dir),
    // /proc shows no securebits; Tetragon's procfs reader leaves them 0 as well.
    creds: {
      uid: uids[0] ?? 0,
      euid: uids[1] ?? 0,
      suid: uids[2] ?? 0,
      fsuid: uids[3] ?? 0,
      gid: gids[0] ?? 0,
      egid: gids[1] ?? 0,
      sgid: gids[2] ?? 0,
      fsgid: gids[3] ?? 0,
      securebits: 0,
      capPermitted: statusCaps(status, "CapPrm"),
      capEffective: statusCaps(status, "CapEff"),
      capInheritable: statusCaps(status, "CapInh"),
    },
  };

  // Guard against the pid being reused between our reads: same pid, different start time.
  const again = tryRead(`${dir}/stat`);
  const reparsed = again === undefined ? undefined : parseStat(again);
  if (!reparsed || reparsed.startTicks !== parsed.startTicks) return undefined;
  return raw;
}

function toRecord(
  raw: RawProc,
  options: ProcfsOptions,
  ktimeByPid: Map<number, bigint>,
  inInitTree: boolean,
): ProcessRecord {
  const { nodeName, clock } = options;
  const kernelThread = raw.argv.length === 0 && raw.exe === undefined;
  // readlink(exe) fails for kernel threads, zombies and other users' processes when unprivileged.
  const binary = raw.exe ?? (kernelThread ? raw.comm : (raw.argv[0] ?? raw.comm));

  // Tetragon's procfs events carry the bit in their flags too ("procFS auid rootcwd inInitTree").
  let flags: number = PROCFS_FLAGS | (inInitTree ? ProcessFlag.IN_INIT_TREE : 0);
  let cwd = "";
  if (raw.cwd === undefined) flags |= ProcessFlag.NO_CWD;
  else {
    cwd = raw.cwd;
    if (cwd === "/") flags |= ProcessFlag.ROOT_CWD;
  }

  let parentKtime = 0n;
  let parentExecId: string;
  if (raw.ppid === 0) parentExecId = rootParentExecId(nodeName);
  else {
    // Tetragon builds the parent key with ktime 0 when the parent is unreadable; so do we.
    parentKtime = ktimeByPid.get(raw.ppid) ?? readStartKtime(raw.ppid, options) ?? 0n;
    parentExecId = execId(nodeName, parentKtime, raw.ppid);
  }

  const container = containerIdFromCgroup(raw.cgroupPath);
  const pod = container.id && options.podInfo ? options.podInfo.lookup(container.id) : undefined;
  const record: ProcessRecord = {
    execId: execId(nodeName, raw.ktime, raw.pid),
    pid: raw.pid,
    tid: raw.pid,
    ktime: raw.ktime,
    parentExecId,
    parentPid: raw.ppid,
    parentKtime,
    uid: raw.uid,
    euid: raw.euid,
    auid: raw.auid,
    cwd,
    binary,
    arguments: formatArguments(raw.argv.slice(1)),
    flags: formatFlags(flags),
    startTime: clock.toTimestamp(raw.ktime),
    docker: container.docker,
    containerId: container.id,
    nspid: raw.nspid,
    ns: raw.ns,
    inInitTree,
    creds: raw.creds,
  };
  if (pod) record.pod = podForProcess(pod, raw.nspid);
  return record;
}

/** Exported for tests: parses the fields we need from /proc/<pid>/stat. */
export function parseStat(text: string): { comm: string; ppid: number; startTicks: bigint } | undefined {
  // comm is in parentheses and may itself contain spaces and ')', so split after the last ')'.
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < open) return undefined;
  const fields = text.slice(close + 2).split(" ");
  // fields[0] is field 3 (state); field N is fields[N - 3].
  const ppid = fields[1];
  const start = fields[19];
  if (ppid === undefined || start === undefined || !/^\d+$/.test(start)) return undefined;
  return { comm: text.slice(open + 1, close), ppid: Number(ppid), startTicks: BigInt(start) };
}

/** NSpid's last column when there is more than one (a child pid namespace), else 0. */
export function nspidFromStatus(status: string): number {
  const line = /^NSpid:\s*(.*)$/m.exec(status)?.[1];
  if (!line) return 0;
  const ids = line.trim().split(/\s+/);
  return ids.length > 1 ? Number(ids[ids.length - 1]) : 0;
}

/** A capability set line of /proc/<pid>/status (16 hex digits); 0n when absent. */
function statusCaps(status: string, key: "CapPrm" | "CapEff" | "CapInh"): bigint {
  const hex = new RegExp(`^${key}:\\s*([0-9a-fA-F]+)\\s*$`, "m").exec(status)?.[1];
  return hex ? BigInt(`0x${hex}`) : 0n;
}

function statusIds(status: string, key: "Uid" | "Gid"): number[] {
  const line = new RegExp(`^${key}:\\s*(.*)$`, "m").exec(status)?.[1] ?? "";
  return line.trim().split(/\s+/).map(Number);
}

function readLoginUid(dir: string): number {
  const text = tryRead(`${dir}/loginuid`);
  const value = text === undefined ? Number.NaN : Number(text.trim());
  return Number.isInteger(value) ? value : UNSET_AUID;
}

function readStartKtime(pid: number, options: ProcfsOptions): bigint | undefined {
  const stat = tryRead(`${options.procRoot ?? "/proc"}/${pid}/stat`);
  const parsed = stat === undefined ? undefined : parseStat(stat);
  return parsed ? (parsed.startTicks * 1_000_000_000n) / BigInt(clkTckOf(options)) : undefined;
}

const NS_FILES: ReadonlyArray<readonly [keyof NamespaceInums, string]> = [
  ["uts", "uts"],
  ["ipc", "ipc"],
  ["mnt", "mnt"],
  ["pid", "pid"],
  ["pidForChildren", "pid_for_children"],
  ["net", "net"],
  ["time", "time"],
  ["timeForChildren", "time_for_children"],
  ["cgroup", "cgroup"],
  ["user", "user"],
];

/** Namespace inums from readlink <dir>/ns/* (dir: /proc/<pid>); 0 where unreadable (EACCES). */
export function readNamespaces(dir: string): NamespaceInums {
  const ns: NamespaceInums = { ...NO_NAMESPACES };
  for (const [field, file] of NS_FILES) {
    const link = tryReadlink(`${dir}/ns/${file}`);
    const inum = link ? /\[(\d+)\]$/.exec(link)?.[1] : undefined;
    if (inum) ns[field] = Number(inum);
  }
  return ns;
}

function tryRead(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

function tryReadlink(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}
