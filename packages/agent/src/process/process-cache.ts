import { posix } from "node:path";
import type { BootClock } from "../clock.js";
import { containerIdFromCgroup } from "../container/container-id.js";
import { type PodInfoSource, podForProcess } from "../container/pod-info.js";
import { formatArguments } from "./arguments.js";
import { execId, rootParentExecId } from "./exec-id.js";
import { formatFlags, ProcessFlag, parseFlags } from "./flags.js";
import type { CachedProcess, ProcessRecord } from "./process-record.js";
import { clockTicksPerSecond, readProcfsProcess } from "./procfs.js";
import type { CloneInput, ExecInput, ExitInput, ProcessKeyInput, TaskInput } from "./raw-input.js";

export interface ProcessCacheOptions {
  nodeName: string;
  clock: BootClock;
  /** Pod metadata for container processes; looked up again later when it was missing. */
  podInfo?: PodInfoSource | undefined;
  /** Where misses are read from; "/proc". */
  procRoot?: string;
  /** Upper bound on entries (Tetragon's --process-cache-size default: 65536). */
  maxEntries?: number;
  /**
   * How long an entry stays after its refcnt reached 0: events already in flight may still
   * name it (Tetragon garbage-collects zero entries every 30 s).
   */
  exitGraceMs?: number;
  /**
   * At most this many entries wait out their grace period (refcnt 0: exited, or replaced by an
   * exec); past it the oldest go at once. Without it the grace period alone lets a burst of
   * short-lived processes fill the cache: 100k fork+exec+exit in 84 s left 65536 dead entries
   * (each process leaves two: its clone image and its exec image) and the agent at 476 MB RSS.
   * The ring buffer hands records over in order, so the records that can still name a dead
   * process are the few right behind its exit: a short history is enough.
   */
  maxExitedEntries?: number;
  /** Milliseconds clock for the grace period; injectable for tests. */
  now?: () => number;
}

export interface ProcessCacheStats {
  size: number;
  /** Entries dropped because maxEntries was reached while they were still referenced. */
  evictedReferenced: number;
  /** Entries dropped after their grace period or, under pressure, early. */
  removed: number;
  /** Entries at refcnt 0 waiting out their grace period (at most maxExitedEntries). */
  exited: number;
  /** Lookups that had to read /proc. */
  procfsMisses: number;
}

/**
 * Moves within which a touched entry counts as recent enough to stay where it is (#touch); at
 * most 1/16 of the cache, so the order is exact LRU for small caches and within 64 moves of it
 * for real ones.
 */
const LRU_SLACK = 64;

/**
 * Default bound on dead entries in their grace period: at the 2.4k processes/s a tight
 * fork/exec loop reaches on this 2-core machine (two dead entries each), the last ~0.9 s of them,
 * ~7 MB of heap; a dead entry costs ~1.5 KB (record, message memo, map slots).
 */
const DEFAULT_MAX_EXITED = 4096;

interface Entry extends ProcessRecord {
  refcnt: number;
  exited: boolean;
}

/**
 * The user-space process cache: every known process by exec_id, plus pid → current exec_id.
 *
 * Reference counting follows Tetragon (pkg/process/cache.go, tetragon-reference §3.5): an entry
 * holds 1 for itself while alive (`process++` at exec/clone, `process--` at exit) and 1 for each
 * live child (`parent++` when a child is cloned or exec'd, `parent--` when it exits or is
 * replaced by an exec). So a shell with one running child has refcnt 2, and an exited parent
 * stays resolvable as long as any child still points at it.
 *
 * Memory is bounded: entries at refcnt 0 are removed once `exitGraceMs` has passed or, when
 * more than `maxExitedEntries` wait, oldest first; above `maxEntries` the oldest zero entries go first, then exited-but-referenced ones, then — only if
 * everything is alive — the least recently used. Housekeeping runs on every mutation (cost
 * proportional to what it removes), so there is no timer to manage; `sweep()` is public for
 * callers that want to trim while idle.
 */
export class ProcessCache {
  readonly #node: string;
  #clock: BootClock;
  readonly #podInfo: PodInfoSource | undefined;
  readonly #procRoot: string;
  readonly #maxEntries: number;
  readonly #graceMs: number;
  readonly #maxExited: number;
  readonly #now: () => number;

  /** Insertion/access order = LRU order (a Map iterates in insertion order). */
  readonly #entries = new Map<string, Entry>();
  /** When #touch last moved each entry (a count of moves), for its slack. */
  readonly #lruTicks = new WeakMap<Entry, number>();
  #lruTick = 0;
  readonly #lruSlack: number;
  readonly #byPid = new Map<number, string>();
  /** execId → time its refcnt reached 0, oldest first. */
  readonly #zero = new Map<string, number>();
  /** Exited entries still referenced by children, oldest first. */
  readonly #exitedReferenced = new Set<string>();
  #evictedReferenced = 0;
  #removed = 0;
  #procfsMisses = 0;

  constructor(options: ProcessCacheOptions) {
    this.#node = options.nodeName;
    this.#clock = options.clock;
    this.#podInfo = options.podInfo;
    this.#procRoot = options.procRoot ?? "/proc";
    this.#maxEntries = options.maxEntries ?? 65536;
    this.#lruSlack = Math.min(LRU_SLACK, Math.floor(this.#maxEntries / 16));
    this.#graceMs = options.exitGraceMs ?? 30_000;
    // An exit can make two entries dead at once (the process and its last-referenced parent),
    // and the exit event still reads both.
    this.#maxExited = Math.max(2, options.maxExitedEntries ?? DEFAULT_MAX_EXITED);
    this.#now = options.now ?? Date.now;
  }

  /**
   * Replaces the boot→wall clock for entries created from now on (after the wall clock was
   * stepped, or when a fresher offset reading is available). Existing start times stay as they
   * were computed, which is also Tetragon's behaviour.
   */
  setClock(clock: BootClock): void {
    this.#clock = clock;
  }

  get nodeName(): string {
    return this.#node;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The bound on entries (maxEntries). */
  get capacity(): number {
    return this.#maxEntries;
  }

  stats(): ProcessCacheStats {
    return {
      size: this.#entries.size,
      evictedReferenced: this.#evictedReferenced,
      removed: this.#removed,
      exited: this.#zero.size,
      procfsMisses: this.#procfsMisses,
    };
  }

  /** Every entry, least recently used first (for debug dumps; does not count as use). */
  values(): IterableIterator<CachedProcess> {
    return this.#entries.values();
  }

  /**
   * Processes found in /proc at start-up. A pid the cache already knows from a kernel record is
   * kept as is (kernel records are newer). Refcounts are wired afterwards so parent/child order
   * in `records` does not matter. Returns how many records were inserted.
   */
  seedFromProcfs(records: Iterable<ProcessRecord>): number {
    const inserted: Entry[] = [];
    for (const record of records) {
      if (this.#entries.has(record.execId) || this.#livePidEntry(record.pid)) continue;
      const entry = this.#insert({ ...record, refcnt: 1, exited: false });
      this.#attachPod(entry);
      inserted.push(entry);
    }
    for (const entry of inserted) {
      const parent = this.#entries.get(entry.parentExecId);
      if (parent) this.#inc(parent);
    }
    this.#housekeep(inserted.map((e) => e.execId));
    return inserted.length;
  }

  /**
   * A successful execve. The new image gets its own exec_id (pid + exec ktime); if the pid was
   * already running another image (exec without a new clone), that entry is released as if it
   * had exited. The parent is the task's real parent, as the kernel reports it — which for an
   * exec without clone is the same parent the pre-exec image had.
   */
  upsertFromExec(raw: ExecInput): CachedProcess {
    const { task } = raw;
    const ktime = task.key.ktime !== 0n ? task.key.ktime : raw.ktime;
    const id = execId(this.#node, ktime, task.pid);
    const existing = this.#entries.get(id);
    if (existing) {
      // Created from /proc because a record about it overtook its exec: the exec knows better.
      if ((parseFlags(existing.flags) & ProcessFlag.PROCFS) !== 0) {
        Object.assign(existing, this.#execImage(raw));
        existing.pod = undefined;
        this.#attachPod(existing);
      }
      return this.#touch(existing);
    }

    const parent = this.#parentOf(raw.parent, task);
    this.#releaseReplaced(task.pid, id);
    const entry = this.#insert({ ...this.#identity(task, ktime, id, parent), ...this.#execImage(raw) });
    this.#attachPod(entry);
    if (parent.entry) this.#inc(parent.entry);
    this.#housekeep([id]);
    return entry;
  }

  #execImage(
    raw: ExecInput,
  ): Pick<
    Entry,
    "cwd" | "binary" | "arguments" | "flags" | "docker" | "containerId" | "inInitTree" | "creds"
  > {
    const noCwd = ProcessFlag.NO_CWD | ProcessFlag.ERROR_CWD;
    let bits = raw.flags;
    // The kernel reports "/" through the flag; derive it too so a sensor that only fills cwd agrees.
    if (raw.cwd === "/" && (bits & noCwd) === 0) bits |= ProcessFlag.ROOT_CWD;
    const cwd = (bits & noCwd) !== 0 ? "" : raw.cwd;
    const container = containerIdFromCgroup(raw.cgroupName, { kernelSource: true });
    return {
      cwd,
      // Tetragon's GetBinaryAbsolutePath: a relative filename is relative to the cwd.
      binary: raw.filename.startsWith("/") || cwd === "" ? raw.filename : posix.join(cwd, raw.filename),
      arguments: formatArguments(raw.args),
      flags: formatFlags(bits),
      docker: container.docker,
      containerId: container.id,
      // The kernel's process table decides (nspid 1 or inherited); the string shows it too.
      inInitTree: (bits & ProcessFlag.IN_INIT_TREE) !== 0,
      creds: raw.creds,
    };
  }

  /**
   * A new process (fork/clone without CLONE_THREAD). As in Tetragon, it starts as a copy of its
   * parent — binary, arguments, cwd, container — with its own exec_id (child pid + clone ktime)
   * and flags exactly "clone"; its own exec later replaces it.
   */
  upsertFromClone(raw: CloneInput): CachedProcess {
    const { task } = raw;
    const ktime = task.key.ktime !== 0n ? task.key.ktime : raw.ktime;
    const id = execId(this.#node, ktime, task.pid);
    const existing = this.#entries.get(id);
    if (existing) return this.#touch(existing);

    const parent = this.#parentOf(raw.parent, task);
    this.#releaseReplaced(task.pid, id);

    let bits: number = ProcessFlag.CLONE | ((raw.flags ?? 0) & ProcessFlag.IN_INIT_TREE);
    let source:
      | Pick<ProcessRecord, "cwd" | "binary" | "arguments" | "docker" | "containerId" | "creds">
      | undefined = parent.entry;
    if (!source) {
      // Parent unknown even after reading /proc: the child itself still shows the parent's image.
      source = readProcfsProcess(task.pid, this.#procfsOptions());
      bits |= ProcessFlag.MISS;
    }
    const entry = this.#insert({
      ...this.#identity(task, ktime, id, parent),
      cwd: source?.cwd ?? "",
      binary: source?.binary ?? "",
      arguments: source?.arguments ?? "",
      flags: formatFlags(bits),
      docker: source?.docker ?? "",
      containerId: source?.containerId ?? "",
      inInitTree: (bits & ProcessFlag.IN_INIT_TREE) !== 0,
      creds: raw.creds ?? source?.creds,
    });
    if (parent.entry?.pod) entry.pod = podForProcess(parent.entry.pod, task.nspid);
    else this.#attachPod(entry);
    if (parent.entry) this.#inc(parent.entry);
    this.#housekeep([id]);
    return entry;
  }

  /**
   * The whole thread group exited. Releases the process's own reference and its reference on
   * its parent. The entry stays resolvable until nothing references it and the grace period
   * has passed. Returns the entry, or undefined if it was unknown or already exited.
   */
  markExit(raw: ExitInput): CachedProcess | undefined {
    const entry = this.#lookupKey(raw.task.key.pid || raw.task.pid, raw.task.key.ktime);
    if (!entry || entry.exited) return undefined;
    this.#release(entry);
    this.#housekeep([]);
    return entry;
  }

  get(id: string): CachedProcess | undefined {
    const entry = this.#entries.get(id);
    if (!entry) return undefined;
    this.#attachPod(entry);
    return this.#touch(entry);
  }

  /** The current (most recent) process with this pid, alive or within its grace period. */
  findByPid(pid: number): CachedProcess | undefined {
    const id = this.#byPid.get(pid);
    return id === undefined ? undefined : this.get(id);
  }

  /** Like {@link resolve} but never reads /proc: for records about processes that are gone (exit). */
  lookup(key: ProcessKeyInput): CachedProcess | undefined {
    const hit = this.#lookupKey(key.pid, key.ktime);
    if (!hit) return undefined;
    this.#attachPod(hit);
    return this.#touch(hit);
  }

  /**
   * The process a kernel record names.
   * - ktime ≠ 0n: the exact exec_id. If absent, the pid's current entry is accepted only when it
   *   came from /proc and its 10 ms-tick start time is within one tick of the kernel's ktime
   *   (the same process seen at two precisions); anything else would be a previous process
   *   whose pid was reused.
   * - ktime = 0n (the kernel did not know the process): the pid's current entry.
   * - Otherwise /proc/<pid> is read now and inserted with flags "procFS miss" (+ "auid", as all
   *   procfs entries), under the kernel's ktime when it has one so later records hit exactly.
   *   Undefined when the process is gone too; callers then build a minimal process.
   */
  resolve(key: ProcessKeyInput): CachedProcess | undefined {
    return this.lookup(key) ?? this.#readMiss(key);
  }

  /** Drops zero-refcnt entries whose grace period has passed. */
  sweep(): void {
    const now = this.#now();
    for (const [id, since] of this.#zero) {
      if (since + this.#graceMs > now) break; // oldest first: the rest are younger
      this.#remove(id);
    }
  }

  // ---- internals ---------------------------------------------------------------------------

  #lookupKey(pid: number, ktime: bigint): Entry | undefined {
    const id = this.#byPid.get(pid);
    const current = id === undefined ? undefined : this.#entries.get(id);
    // The pid's current process is the usual answer: found without building its exec_id string.
    if (current && (ktime === 0n || current.ktime === ktime)) return current;
    if (ktime !== 0n) {
      const exact = this.#entries.get(execId(this.#node, ktime, pid));
      if (exact) return exact;
    }
    if (!current) return undefined;
    const tick = 1_000_000_000n / BigInt(clockTicksPerSecond());
    const fromProcfs = (parseFlags(current.flags) & ProcessFlag.PROCFS) !== 0;
    const diff = ktime - current.ktime;
    return fromProcfs && diff >= 0n && diff < tick ? current : undefined;
  }

  #readMiss(key: ProcessKeyInput): Entry | undefined {
    if (key.pid === 0) return undefined;
    const record = readProcfsProcess(key.pid, this.#procfsOptions());
    this.#procfsMisses++;
    if (!record) return undefined;
    const ktime = key.ktime !== 0n ? key.ktime : record.ktime;
    const id = execId(this.#node, ktime, key.pid);
    this.#releaseReplaced(key.pid, id);
    const parent = this.#entries.get(record.parentExecId) ?? this.#lookupKey(record.parentPid, 0n);
    // The procfs rule with the parent this cache knows: nspid 1, or the parent is in the tree.
    const inInitTree = record.inInitTree || (parent?.inInitTree ?? false);
    const entry = this.#insert({
      ...record,
      execId: id,
      ktime,
      startTime: this.#clock.toTimestamp(ktime),
      parentExecId: parent?.execId ?? record.parentExecId,
      parentKtime: parent?.ktime ?? record.parentKtime,
      flags: formatFlags(
        parseFlags(record.flags) | ProcessFlag.MISS | (inInitTree ? ProcessFlag.IN_INIT_TREE : 0),
      ),
      inInitTree,
      refcnt: 1,
      exited: false,
    });
    this.#attachPod(entry);
    if (parent) this.#inc(parent);
    this.#housekeep([id]);
    return entry;
  }

  #parentOf(
    key: ProcessKeyInput,
    task: TaskInput,
  ): { entry: Entry | undefined; execId: string; pid: number; ktime: bigint } {
    const pid = key.pid !== 0 ? key.pid : task.ppid;
    if (pid === 0) return { entry: undefined, execId: rootParentExecId(this.#node), pid: 0, ktime: 0n };
    const entry = this.resolve(key.pid !== 0 ? key : { pid, ktime: 0n }) as Entry | undefined;
    if (entry) return { entry, execId: entry.execId, pid, ktime: entry.ktime };
    // Unknown everywhere: name it by the kernel's key, as Tetragon does.
    return { entry: undefined, execId: execId(this.#node, key.ktime, pid), pid, ktime: key.ktime };
  }

  #identity(
    task: TaskInput,
    ktime: bigint,
    id: string,
    parent: { execId: string; pid: number; ktime: bigint },
  ): Pick<
    Entry,
    | "execId"
    | "pid"
    | "tid"
    | "ktime"
    | "parentExecId"
    | "parentPid"
    | "parentKtime"
    | "uid"
    | "euid"
    | "auid"
    | "startTime"
    | "nspid"
    | "ns"
    | "refcnt"
    | "exited"
  > {
    return {
      execId: id,
      pid: task.pid,
      tid: task.pid,
      ktime,
      parentExecId: parent.execId,
      parentPid: parent.pid,
      parentKtime: parent.ktime,
      uid: task.uid,
      euid: task.euid,
      auid: task.auid,
      startTime: this.#clock.toTimestamp(ktime),
      nspid: task.nspid,
      ns: { ...task.ns },
      refcnt: 1,
      exited: false,
    };
  }

  /** A live entry under this pid with another exec_id was replaced by exec (or its exit was lost). */
  #releaseReplaced(pid: number, newId: string): void {
    const old = this.#livePidEntry(pid);
    if (old && old.execId !== newId) this.#release(old);
  }

  #livePidEntry(pid: number): Entry | undefined {
    const id = this.#byPid.get(pid);
    const entry = id === undefined ? undefined : this.#entries.get(id);
    return entry && !entry.exited ? entry : undefined;
  }

  /** process-- on the entry and parent-- on its parent. */
  #release(entry: Entry): void {
    entry.exited = true;
    this.#dec(entry);
    if (entry.refcnt > 0) this.#exitedReferenced.add(entry.execId);
    const parent = this.#entries.get(entry.parentExecId);
    if (parent) this.#dec(parent);
  }

  #inc(entry: Entry): void {
    entry.refcnt++;
    this.#zero.delete(entry.execId);
  }

  #dec(entry: Entry): void {
    if (entry.refcnt === 0) return;
    entry.refcnt--;
    if (entry.refcnt === 0) {
      this.#exitedReferenced.delete(entry.execId);
      this.#zero.delete(entry.execId); // re-insert at the end: Map order must follow time
      this.#zero.set(entry.execId, this.#now());
    }
  }

  #insert(entry: Entry): Entry {
    this.#entries.set(entry.execId, entry);
    this.#lruTicks.set(entry, ++this.#lruTick);
    this.#byPid.set(entry.pid, entry.execId);
    return entry;
  }

  #touch(entry: Entry): Entry {
    // Moving an entry to the LRU end costs two Map operations (with string keys) and a flood
    // touches the same few entries (process, parent) every event. An entry moved within the
    // last LRU_SLACK moves is near the end already: the order stays LRU within that slack.
    const moved = this.#lruTicks.get(entry);
    if (moved !== undefined && this.#lruTick - moved < this.#lruSlack) return entry;
    this.#lruTicks.set(entry, ++this.#lruTick);
    this.#entries.delete(entry.execId);
    this.#entries.set(entry.execId, entry);
    return entry;
  }

  #remove(id: string): void {
    const entry = this.#entries.get(id);
    this.#zero.delete(id);
    this.#exitedReferenced.delete(id);
    if (!entry) return;
    this.#removed++;
    this.#entries.delete(id);
    if (this.#byPid.get(entry.pid) === id) this.#byPid.delete(entry.pid);
  }

  /** Grace-period sweep, then the size bounds; `keep` are the entries this call just added. */
  #housekeep(keep: readonly string[]): void {
    this.sweep();
    // Oldest dead entries first; #zero never holds what this call added (new entries are live).
    while (this.#zero.size > this.#maxExited) {
      const oldest = this.#zero.keys().next().value as string;
      this.#remove(oldest);
    }
    if (this.#entries.size <= this.#maxEntries) return;
    const protectedIds = new Set(keep);
    while (this.#entries.size > this.#maxEntries) {
      const victim =
        first(this.#zero.keys(), protectedIds) ??
        first(this.#exitedReferenced.values(), protectedIds) ??
        first(this.#entries.keys(), protectedIds);
      if (victim === undefined) break;
      if ((this.#entries.get(victim)?.refcnt ?? 0) > 0) this.#evictedReferenced++;
      this.#remove(victim);
    }
  }

  /** Container processes get their Pod; retried on later reads because pod metadata can be late. */
  #attachPod(entry: Entry): void {
    if (entry.pod || !entry.containerId || !this.#podInfo) return;
    const pod = this.#podInfo.lookup(entry.containerId);
    if (pod) entry.pod = podForProcess(pod, entry.nspid);
  }

  #procfsOptions() {
    return { nodeName: this.#node, clock: this.#clock, procRoot: this.#procRoot, podInfo: this.#podInfo };
  }
}

function first(ids: Iterable<string>, skip: ReadonlySet<string>): string | undefined {
  for (const id of ids) if (!skip.has(id)) return id;
  return undefined;
}
