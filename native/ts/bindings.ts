// SPDX-License-Identifier: Apache-2.0
/**
 * The raw native surface (src/*.cc), declared here and wrapped by bpf-object.ts. Raw methods
 * carry a `__` prefix; nothing outside this package should call them.
 */
import { createRequire } from "node:module";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { BpfError } from "./errors.js";
import type { RawNamespaces } from "./raw-events.js";

/** Kernel counters (map nsguard_counters, enum nsguard_counter), summed over CPUs. */
export interface KernelCounters {
  /** Records submitted to the ring buffer. */
  events: bigint;
  /** Records lost because the ring buffer was full. */
  ringbufFull: bigint;
  /** Process-table updates that failed. */
  procTableFull: bigint;
  sigkill: bigint;
  sigkillErr: bigint;
  /** Syscalls rejected by selectors in the kernel. */
  filtered: bigint;
  /** Events suppressed by flood resistance (exact; per source in readSources()). */
  throttled: bigint;
  /** Posts a selector's rateLimit suppressed (the calls still happened; only their events are gone). */
  rateLimited: bigint;
}

/**
 * A source of events accounted under ring-buffer pressure (map nsguard_sources, struct
 * nsguard_source): a container cgroup (pid 0) or one process in it. Entries are made only under
 * pressure; totals count from the entry's creation.
 */
export interface ThrottleSource {
  /** cgroup v2 id (kernfs inode), or on hybrid hosts the v1 memory cgroup's id | throttle.cgroupV1Flag. */
  cgroupId: bigint;
  /** tgid; 0 for the cgroup-level entry. */
  pid: number;
  /** Container cgroup name (last path component); cgroup-level entries only, else "". */
  cgroupName: string;
  /** Events suppressed (exact). */
  suppressed: bigint;
  /** Events admitted under pressure and written to the ring buffer. */
  posted: bigint;
  /** Events admitted under pressure but lost to a full ring buffer (also in ringbufFull). */
  lost: bigint;
  /** Events in the source's last active window (a heuristic, not exact). */
  windowCount: bigint;
  /** That window: boot-clock ns / throttle.windowNs. */
  windowEpoch: bigint;
  /** Boot-clock ns the entry was made. */
  createdKtime: bigint;
  /** Boot-clock ns of the last suppression; 0n when none. */
  lastSuppressedKtime: bigint;
}

/** Flood-resistance limits from bpf/include/nsguard_events.h (NSGUARD_THROTTLE_*). */
export interface ThrottleConstants {
  /** Size of the ring buffer nsguard_events (NSGUARD_RINGBUF_BYTES). */
  ringbufBytes: number;
  /** Unread bytes from which events are accounted (both levels heavy → suppressed). */
  lowBytes: number;
  /** Unread bytes from which either level being heavy suppresses. */
  highBytes: number;
  /** Unread bytes from which every ordinary event is suppressed (the rest is priority headroom). */
  maxBytes: number;
  windowNs: number;
  minBurst: number;
  /** Bit set in ThrottleSource.cgroupId for cgroup v1 (memory controller) ids. */
  cgroupV1Flag: bigint;
}

/** Reader-side statistics of an event stream (counts since it started). */
export interface EventStreamStats {
  /** Well-formed records read from the ring buffer. */
  records: number;
  /** Batches queued for the JS thread. */
  batches: number;
  /** Records skipped as short or of unknown op (never decoded). */
  malformed: number;
  /**
   * Records read but never handed to onBatch because stop() came first. (While JS is behind the
   * reader does not drop: it leaves records in the kernel ring buffer, whose overflow the kernel
   * counts — readCounters().ringbufFull.) Once stopped: delivered + droppedEvents === records.
   */
  droppedEvents: number;
  droppedBatches: number;
  /** poll / ring_buffer__consume / reader-state map update failures. */
  errors: number;
  /**
   * Times the reader found the ring empty and slept until the BPF side woke it (map
   * nsguard_reader_state). 0 with objects that lack that map: the reader then polls every pollMs.
   */
  sleeps: number;
  /** Sleeps ended by a record (the BPF side's wake-up) rather than by the 1 s re-arm timeout. */
  wakeups: number;
  running: boolean;
}

export interface ProgramInfo {
  name: string;
  /** ELF section, e.g. "tp_btf/sched_process_exec". */
  section: string;
  /** Kernel program id once loaded, 0 before. */
  id: number;
}

export interface LinkInfo {
  id: number;
  /** Human-readable attach target, e.g. "nsguard_sys_enter tracepoint syscalls/sys_enter_setns cookie 7". */
  target: string;
}

export interface BpfObjectState {
  path: string;
  loaded: boolean;
  closed: boolean;
  streaming: boolean;
  /** Maps reused from shareMapsWith at open. */
  sharedMaps: string[];
}

/** A unix socket peer as the kernel recorded it at connect() (SO_PEERCRED, SO_PEERGROUPS). */
export interface PeerCredentials {
  pid: number;
  uid: number;
  /** Primary group. */
  gid: number;
  /** Supplementary groups. */
  groups: number[];
}

export interface MemlockResult {
  /** True when RLIMIT_MEMLOCK is now unlimited. */
  ok: boolean;
  /** errno name of the failure (EPERM without CAP_SYS_RESOURCE), or null. */
  code: string | null;
  soft: number;
  hard: number;
}

/** Values from bpf/include/nsguard_events.h, as compiled into the addon. */
export interface NativeConstants {
  COMM_LEN: number;
  CGROUP_NAME_LEN: number;
  FILENAME_LEN: number;
  CWD_LEN: number;
  ARGS_LEN: number;
  SYSCALL_ARGS: number;
  MAX_SELECTORS: number;
  MAX_PID_VALUES: number;
  FOLLOW_DEPTH: number;
  CNT_MAX: number;
  ops: { exec: number; clone: number; exit: number; syscall: number };
  recordSizes: {
    header: number;
    exec: number;
    clone: number;
    exit: number;
    syscall: number;
    proc: number;
    hook: number;
  };
  actions: { POST: number; SIGKILL: number; NOPOST: number; SIGNAL: number };
  processFlags: {
    EXECVE: number;
    PROCFS: number;
    TRUNC_ARGS: number;
    MISS: number;
    ERROR_FILENAME: number;
    ERROR_ARGS: number;
    NOCWD: number;
    ROOTCWD: number;
    ERROR_CWD: number;
    CLONE: number;
    IN_INIT_TREE: number;
  };
  /** enum nsguard_fd_kind values, by RawFdKind name. */
  fdKinds: { unknown: number; nsfs: number; pidfd: number; other: number };
  syscallFlags: { COMPAT: number; CLONE3_FLAGS: number };
  /** enum nsguard_ns_call values. */
  nsCalls: Record<"none" | "setns" | "unshare" | "clone" | "clone3", number>;
  /** enum nsguard_arg_op values, by matchArgs operator. */
  argOps: Record<"Equal" | "NotEqual" | "Mask" | "GT" | "LT", number>;
  MAX_ARG_FILTERS: number;
  MAX_ARG_VALUES: number;
  /** Slot of each namespace in nsguard_task.ns (enum nsguard_ns_index). */
  nsIndex: Record<keyof RawNamespaces, number>;
  /** offsetof() of every record field the JS decoder reads, by C struct and field name. */
  layout: RecordLayout;
}

/** Byte offsets within each record struct of bpf/include/nsguard_events.h. */
export interface RecordLayout {
  header: { op: number; size: number; ktime: number };
  processKey: { pid: number; ktime: number };
  task: {
    key: number;
    pid: number;
    tid: number;
    ppid: number;
    nspid: number;
    uid: number;
    euid: number;
    gid: number;
    auid: number;
    cgroup_id: number;
    ns: number;
    comm: number;
  };
  exec: {
    task: number;
    parent: number;
    flags: number;
    filename_len: number;
    args_len: number;
    cwd_len: number;
    cgroup_name_len: number;
    filename: number;
    args: number;
    cwd: number;
    cgroup_name: number;
    creds: number;
  };
  clone: { task: number; parent: number; flags: number; creds: number };
  creds: {
    uid: number;
    gid: number;
    euid: number;
    egid: number;
    suid: number;
    sgid: number;
    fsuid: number;
    fsgid: number;
    securebits: number;
    cap_permitted: number;
    cap_effective: number;
    cap_inheritable: number;
  };
  exit: { task: number; exit_code: number };
  syscall: {
    task: number;
    hook_id: number;
    syscall_nr: number;
    action: number;
    selector: number;
    args: number;
    fd_kind: number;
    fd_ns_inum: number;
    signal_err: number;
    flags: number;
    ns_kinds: number;
    ns_created: number;
    ns_to_host: number;
    ns_from_host: number;
    ns_target: number;
  };
}

export interface NativeEventStream {
  stop(): void;
  /** A handed-over batch is done with: the reader may hand over another. */
  releaseBatch(): void;
  ref(): NativeEventStream;
  unref(): NativeEventStream;
  stats(): EventStreamStats;
}

export interface NativeBpfObject {
  __load(): void;
  __programs(): string[];
  __maps(): string[];
  __programInfo(): ProgramInfo[];
  __attachTracepoint(program: string, category: string, name: string, cookie?: number): number;
  __attach(program: string): number;
  __detach(linkId: number): boolean;
  __links(): LinkInfo[];
  __close(): void;
  __updateMapElem(mapName: string, key: Uint8Array, value: Uint8Array): void;
  __insertMapElem(mapName: string, key: Uint8Array, value: Uint8Array): boolean;
  __deleteMapElem(mapName: string, key: Uint8Array): boolean;
  __readCounters(): KernelCounters;
  __readSources(): ThrottleSource[];
  __readProcsFollowBits(): bigint;
  /** onBatch gets each batch as [records…][uint32 offsets[count]] (native Batch, src/event_stream.h). */
  __openEventStream(
    onBatch: (bytes: ArrayBuffer, count: number) => void,
    pollMs: number,
    maxBatch: number,
  ): NativeEventStream;
  __state(): BpfObjectState;
}

export interface NativeBinding {
  /** Opens the ELF file; with shareMapsWith, reuses that loaded object's maps by name. */
  BpfObject: {
    new (path: string, shareMapsWith?: NativeBpfObject): NativeBpfObject;
    __throttleConstants: ThrottleConstants;
  };
  __init(classes: { BpfError: typeof BpfError }): void;
  bootClockOffsetNs(): bigint;
  trimMemory(): boolean;
  libbpfVersion(): string;
  hostNamespaceInums(): RawNamespaces | undefined;
  bumpMemlock(): MemlockResult;
  peerCredentials(fd: number): PeerCredentials;
  /** The reader's validation and batch layout applied to samples (see __openEventStream). */
  batchRecords(samples: readonly Uint8Array[]): { bytes: ArrayBuffer; count: number; malformed: number };
  constants: NativeConstants;
}

const require = createRequire(import.meta.url);
const bindings = require("bindings") as (opts: { bindings: string; module_root: string }) => unknown;

// ts/ and dist/ both sit directly under the package root, where build/Release/ is.
const moduleRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");

export const native = bindings({ bindings: "nsguard_native", module_root: moduleRoot }) as NativeBinding;
native.__init({ BpfError });
