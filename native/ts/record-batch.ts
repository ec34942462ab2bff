// SPDX-License-Identifier: Apache-2.0
/**
 * A batch of ring-buffer records as the native reader hands it over: one ArrayBuffer over the
 * reader's own memory, [records…][uint32 offsets], each record 8-byte aligned. Nothing is decoded
 * until asked: decode(i) builds the full RawEvent, syscall(i) positions one reused view whose
 * getters read single fields. Every offset comes from the addon's `constants.layout`, i.e. from
 * offsetof() on bpf/include/nsguard_events.h; none is written here.
 *
 * Records are in host byte order (the kernel wrote them), and the header keeps every field
 * naturally aligned, so fields are read through typed arrays (host order) at index offset/size.
 */

import { Buffer } from "node:buffer";
import { NSGUARD_SYSCALL_RETURN, structs } from "@nsguard/kernel-contract";
import { native } from "./bindings.js";
import type {
  RawArgString,
  RawCreds,
  RawEvent,
  RawExecEvent,
  RawFdKind,
  RawNamespaceChange,
  RawNamespaces,
  RawProcessKey,
  RawSyscallEvent,
  RawTask,
} from "./raw-events.js";

export type RecordOp = RawEvent["op"];

const C = native.constants;
const L = C.layout;
const HDR = L.header;
const TASK = L.task;
const KEY = L.processKey;

/** `offset` as an index into a typed array of `size`-byte elements (all header fields are aligned). */
function index(offset: number, size: number): number {
  if (offset % size !== 0) throw new Error(`nsguard_events.h field at ${offset} is not ${size}-byte aligned`);
  return offset / size;
}

const OP_NAMES: RecordOp[] = [];
OP_NAMES[C.ops.exec] = "exec";
OP_NAMES[C.ops.clone] = "clone";
OP_NAMES[C.ops.exit] = "exit";
OP_NAMES[C.ops.syscall] = "syscall";

const FD_KINDS: RawFdKind[] = [];
FD_KINDS[C.fdKinds.unknown] = "unknown";
FD_KINDS[C.fdKinds.nsfs] = "nsfs";
FD_KINDS[C.fdKinds.pidfd] = "pidfd";
FD_KINDS[C.fdKinds.other] = "other";

// Word indices of nsguard_task fields, relative to the task's first word.
const TW_PID = index(TASK.pid, 4);
const TW_TID = index(TASK.tid, 4);
const TW_PPID = index(TASK.ppid, 4);
const TW_NSPID = index(TASK.nspid, 4);
const TW_UID = index(TASK.uid, 4);
const TW_EUID = index(TASK.euid, 4);
const TW_GID = index(TASK.gid, 4);
const TW_AUID = index(TASK.auid, 4);
/** RawNamespaces field → word index of its inum in the task (ns[] in enum nsguard_ns_index order). */
const NS_SLOTS = (Object.keys(C.nsIndex) as (keyof RawNamespaces)[]).map(
  (name) => [name, index(TASK.ns, 4) + C.nsIndex[name]] as const,
);

// Word indices, relative to a record's first word, of what the syscall view reads.
const SYS = L.syscall;
const W_OP = index(HDR.op, 4);
const Q_KTIME = index(HDR.ktime, 8);
const W_HOOK = index(SYS.hook_id, 4);
const W_NR = index(SYS.syscall_nr, 4);
const W_ACTION = index(SYS.action, 4);
const W_SELECTOR = index(SYS.selector, 4);
const Q_ARGS = index(SYS.args, 8);
const W_FD_KIND = index(SYS.fd_kind, 4);
const W_FD_NS = index(SYS.fd_ns_inum, 4);
const W_SIGNAL_ERR = index(SYS.signal_err, 4);
const W_NS_KINDS = index(SYS.ns_kinds, 4);
const W_NS_CREATED = index(SYS.ns_created, 4);
const W_NS_TO_HOST = index(SYS.ns_to_host, 4);
const W_NS_FROM_HOST = index(SYS.ns_from_host, 4);
const W_NS_TARGET = index(SYS.ns_target, 4);
const NS_COUNT = Object.keys(C.nsIndex).length;
const W_TASK_NS = index(SYS.task + TASK.ns, 4);
const W_FLAGS = index(SYS.flags, 4);
const W_PID = index(SYS.task + TASK.pid, 4);
const W_TID = index(SYS.task + TASK.tid, 4);
const W_NSPID = index(SYS.task + TASK.nspid, 4);
const W_UID = index(SYS.task + TASK.uid, 4);
const W_AUID = index(SYS.task + TASK.auid, 4);
const W_KEY_PID = index(SYS.task + TASK.key + KEY.pid, 4);
const Q_KEY_KTIME = index(SYS.task + TASK.key + KEY.ktime, 8);
const Q_CGROUP = index(SYS.task + TASK.cgroup_id, 8);
const COMPAT = C.syscallFlags.COMPAT;
const SYSCALL_ARGS = C.SYSCALL_ARGS;
// A hook with string arguments submits struct nsguard_syscall_strings_event: the record, then its
// strings (layouts generated from the header by @nsguard/kernel-contract).
const STRINGS_RECORD = structs.nsguard_syscall_strings_event;
const STRING = structs.nsguard_arg_string;
const STRINGS_AT = STRINGS_RECORD.fields.strings.offset;
const STRING_SLOTS = Array.from({ length: STRINGS_RECORD.fields.strings.length }, (_, n) => n);
const W_SIZE = index(HDR.size, 4);
// A record of a `return: true` hook, made at the call's return, ends with struct
// nsguard_syscall_return (flag NSGUARD_SYSCALL_RETURN; hdr.size covers it).
const RETURN_TAIL = structs.nsguard_syscall_return;
const SYS_SIZE = structs.nsguard_syscall_event.size;
const STRING_TRUNCATED = 0x1; // NSGUARD_STRING_FLAG_TRUNCATED
const STRING_ERROR = 0x2; // NSGUARD_STRING_FLAG_ERROR

/**
 * One syscall record of a batch, read in place. RecordBatch.syscall(i) returns the same object for
 * every i, repositioned: read what you need before the next syscall() call on that batch.
 */
export class SyscallRecordView {
  readonly #batch: RecordBatch;
  readonly #u32: Uint32Array;
  readonly #i32: Int32Array;
  readonly #u64: BigUint64Array;
  #w = 0; // the record's first 4-byte word
  #q = 0; // the record's first 8-byte word
  #base = 0; // the record's first byte

  /** @internal Use RecordBatch.syscall(). */
  constructor(batch: RecordBatch, u32: Uint32Array, i32: Int32Array, u64: BigUint64Array) {
    this.#batch = batch;
    this.#u32 = u32;
    this.#i32 = i32;
    this.#u64 = u64;
  }

  /** @internal */
  position(base: number): this {
    this.#base = base;
    this.#w = base >>> 2;
    this.#q = base >>> 3;
    return this;
  }

  /** bpf_ktime_get_boot_ns() at the event. */
  get ktime(): bigint {
    return this.#u64[this.#q + Q_KTIME] as bigint;
  }
  /** Attach cookie: identifies the policy hook that fired. */
  get hookId(): number {
    return this.#u32[this.#w + W_HOOK] as number;
  }
  get syscallNr(): number {
    return this.#u32[this.#w + W_NR] as number;
  }
  /** tetragon.KprobeAction value taken in the kernel (1 = POST, 3 = SIGKILL). */
  get action(): number {
    return this.#u32[this.#w + W_ACTION] as number;
  }
  /** 1-based index of the selector that matched; 0 when the hook has no selectors. */
  get selector(): number {
    return this.#u32[this.#w + W_SELECTOR] as number;
  }
  /** Came through the 32-bit entry (int 0x80); syscallNr is then the ia32 number. */
  get compat(): boolean {
    return ((this.#u32[this.#w + W_FLAGS] as number) & COMPAT) !== 0;
  }
  get fdKind(): RawFdKind {
    return FD_KINDS[this.#u32[this.#w + W_FD_KIND] as number] ?? "unknown";
  }
  /** Namespace inum the fd argument refers to (nsfs), else 0. */
  get fdNsInum(): number {
    return this.#u32[this.#w + W_FD_NS] as number;
  }
  /** bpf_send_signal() result for SIGKILL (0 = delivered). */
  get signalErr(): number {
    return this.#i32[this.#w + W_SIGNAL_ERR] as number;
  }
  /** Namespace kinds the call changes (RawNamespaceChange.kinds); 0 for other hooks. */
  get nsKinds(): number {
    return this.#u32[this.#w + W_NS_KINDS] as number;
  }
  /** Of nsKinds entered: the target is the host's namespace. */
  get nsToHost(): number {
    return this.#u32[this.#w + W_NS_TO_HOST] as number;
  }
  /** Of nsKinds: the caller's namespace of that kind is the host's. */
  get nsFromHost(): number {
    return this.#u32[this.#w + W_NS_FROM_HOST] as number;
  }
  /** The whole namespace change; allocates, so read nsKinds first. */
  nsChange(): RawNamespaceChange {
    return namespaceChangeAt(this.#u32, this.#w);
  }
  /**
   * What the syscall returned (a result, or -errno), for a record made at the call's return (a
   * `return: true` hook); undefined for records made at the call.
   */
  get returnValue(): bigint | undefined {
    return this.#batch.returnTail(this.#base)?.value;
  }
  /** tetragon.KprobeAction taken at the return (matchReturnActions); 0 for records made at the call. */
  get returnAction(): number {
    return this.#batch.returnTail(this.#base)?.action ?? 0;
  }
  /** String slot n of the record (struct nsguard_hook.strings), or undefined when it has none. */
  string(n: number): RawArgString | undefined {
    return this.#batch.argString(this.#base, n);
  }
  /** Raw syscall argument register n (0-based, < SYSCALL_ARGS). */
  arg(n: number): bigint {
    if (!(n >= 0 && n < SYSCALL_ARGS && Number.isInteger(n))) {
      throw new RangeError(`syscall argument index must be 0..${SYSCALL_ARGS - 1}`);
    }
    return this.#u64[this.#q + Q_ARGS + n] as bigint;
  }
  /** The calling task's tgid. */
  get pid(): number {
    return this.#u32[this.#w + W_PID] as number;
  }
  get tid(): number {
    return this.#u32[this.#w + W_TID] as number;
  }
  /** tgid inside its own pid namespace; 0 in the initial pid namespace. */
  get nspid(): number {
    return this.#u32[this.#w + W_NSPID] as number;
  }
  get uid(): number {
    return this.#u32[this.#w + W_UID] as number;
  }
  get auid(): number {
    return this.#u32[this.#w + W_AUID] as number;
  }
  /** task.key.pid: the process-table identity of the caller. */
  get keyPid(): number {
    return this.#u32[this.#w + W_KEY_PID] as number;
  }
  /** task.key.ktime; 0n when the kernel did not know the process. */
  get keyKtime(): bigint {
    return this.#u64[this.#q + Q_KEY_KTIME] as bigint;
  }
  get cgroupId(): bigint {
    return this.#u64[this.#q + Q_CGROUP] as bigint;
  }
  /** The whole task, decoded now (allocates). */
  task(): RawTask {
    return this.#batch.decodeTask(this.#base + SYS.task);
  }
}

/**
 * One batch from the reader. Hold it as long as needed; call release() once done with it: until
 * then it counts against the reader's limit of batches in JS (two), past which the reader leaves
 * records in the kernel ring buffer. A batch never released is freed by GC but keeps the reader
 * paused for good. Records stay readable after release() (release is flow control, not freeing).
 */
export class RecordBatch {
  /** Number of records. */
  readonly length: number;
  readonly #bytes: Buffer;
  readonly #u16s: Uint16Array;
  readonly #u32: Uint32Array;
  readonly #i32: Int32Array;
  readonly #u64: BigUint64Array;
  readonly #offsets: Uint32Array;
  #release: (() => void) | undefined;
  #view: SyscallRecordView | undefined;

  /**
   * @internal Made by EventStream (and RecordBatch.fromSamples): `bytes` is the native batch,
   * `count` its record count, `release` gives its reader slot back.
   */
  constructor(bytes: ArrayBuffer, count: number, release?: () => void) {
    this.length = count;
    this.#bytes = Buffer.from(bytes);
    this.#u16s = new Uint16Array(bytes, 0, bytes.byteLength >>> 1);
    this.#u32 = new Uint32Array(bytes, 0, bytes.byteLength >>> 2);
    this.#i32 = new Int32Array(bytes, 0, bytes.byteLength >>> 2);
    this.#u64 = new BigUint64Array(bytes, 0, bytes.byteLength >>> 3);
    this.#offsets = new Uint32Array(bytes, bytes.byteLength - 4 * count, count);
    this.#release = release;
  }

  /**
   * Runs ring-buffer samples (one Uint8Array each) through the reader's own validation and batch
   * layout: for replaying captured records. Malformed samples are counted and left out.
   */
  static fromSamples(samples: readonly Uint8Array[]): { batch: RecordBatch; malformed: number } {
    const { bytes, count, malformed } = native.batchRecords(samples);
    return { batch: new RecordBatch(bytes, count), malformed };
  }

  /** Tells the reader this batch is done with. Idempotent. */
  release(): void {
    const release = this.#release;
    this.#release = undefined;
    release?.();
  }

  /** True once release() was called (always for batches not from a stream). */
  get released(): boolean {
    return this.#release === undefined;
  }

  op(i: number): RecordOp {
    return OP_NAMES[this.#u32[(this.#offset(i) >>> 2) + W_OP] as number] as RecordOp;
  }

  /** The syscall record i, through this batch's one reused view (valid until the next call). */
  syscall(i: number): SyscallRecordView {
    const base = this.#offset(i);
    if (this.#u32[(base >>> 2) + W_OP] !== C.ops.syscall) {
      throw new TypeError(`record ${i} is ${this.op(i)}, not syscall`);
    }
    this.#view ??= new SyscallRecordView(this, this.#u32, this.#i32, this.#u64);
    return this.#view.position(base);
  }

  /** Record i in full, as a RawEvent (allocates; strings and args decoded now). */
  decode(i: number): RawEvent {
    const base = this.#offset(i);
    const op = this.op(i);
    const ktime = this.#u64[(base >>> 3) + Q_KTIME] as bigint;
    switch (op) {
      case "exec":
        return this.#decodeExec(base, ktime);
      case "clone":
        return {
          op,
          ktime,
          task: this.decodeTask(base + L.clone.task),
          parent: this.#key(base + L.clone.parent),
          flags: this.#u32[(base + L.clone.flags) >>> 2] as number,
          creds: this.#creds(base + L.clone.creds),
        };
      case "exit":
        return {
          op,
          ktime,
          task: this.decodeTask(base + L.exit.task),
          exitCode: this.#u32[(base + L.exit.exit_code) >>> 2] as number,
        };
      case "syscall":
        return this.#decodeSyscall(base, ktime);
    }
  }

  /** Every record decoded, in order. */
  decodeAll(): RawEvent[] {
    const out = new Array<RawEvent>(this.length);
    for (let i = 0; i < this.length; i++) out[i] = this.decode(i);
    return out;
  }

  /** @internal The nsguard_task at byte `at`. */
  decodeTask(at: number): RawTask {
    const u32 = this.#u32;
    const w = at >>> 2;
    const ns = {} as RawNamespaces;
    for (const [name, slot] of NS_SLOTS) ns[name] = u32[w + slot] as number;
    return {
      key: this.#key(at + TASK.key),
      pid: u32[w + TW_PID] as number,
      tid: u32[w + TW_TID] as number,
      ppid: u32[w + TW_PPID] as number,
      nspid: u32[w + TW_NSPID] as number,
      uid: u32[w + TW_UID] as number,
      euid: u32[w + TW_EUID] as number,
      gid: u32[w + TW_GID] as number,
      auid: u32[w + TW_AUID] as number,
      cgroupId: this.#u64[(at + TASK.cgroup_id) >>> 3] as bigint,
      ns,
      comm: this.#string(at + TASK.comm, C.COMM_LEN, C.COMM_LEN),
    };
  }

  #offset(i: number): number {
    if (!(i >= 0 && i < this.length)) throw new RangeError(`record index ${i} out of range (${this.length})`);
    return this.#offsets[i] as number;
  }

  #creds(at: number): RawCreds {
    const u32 = (field: number) => this.#u32[(at + field) >>> 2] as number;
    const u64 = (field: number) => this.#u64[(at + field) >>> 3] as bigint;
    const CR = L.creds;
    return {
      uid: u32(CR.uid),
      gid: u32(CR.gid),
      euid: u32(CR.euid),
      egid: u32(CR.egid),
      suid: u32(CR.suid),
      sgid: u32(CR.sgid),
      fsuid: u32(CR.fsuid),
      fsgid: u32(CR.fsgid),
      securebits: u32(CR.securebits),
      capPermitted: u64(CR.cap_permitted),
      capEffective: u64(CR.cap_effective),
      capInheritable: u64(CR.cap_inheritable),
    };
  }

  #key(at: number): RawProcessKey {
    return {
      pid: this.#u32[(at + KEY.pid) >>> 2] as number,
      ktime: this.#u64[(at + KEY.ktime) >>> 3] as bigint,
    };
  }

  #u16(at: number): number {
    return this.#u16s[at >>> 1] as number;
  }

  /** @internal The return tail of the syscall record at base, if it was made at the return. */
  returnTail(base: number): { value: bigint; action: number } | undefined {
    const w = base >>> 2;
    if (((this.#u32[w + W_FLAGS] as number) & NSGUARD_SYSCALL_RETURN) === 0) return undefined;
    const at = base + (this.#u32[w + W_SIZE] as number) - RETURN_TAIL.size;
    // hdr.size below the smallest record with a tail: the flag lies, there is no tail to read.
    if (at < base + SYS_SIZE) return undefined;
    return {
      value: BigInt.asIntN(64, this.#u64[(at + RETURN_TAIL.fields.ret.offset) >>> 3] as bigint),
      action: this.#u32[(at + RETURN_TAIL.fields.return_action.offset) >>> 2] as number,
    };
  }

  /** @internal String slot n of the syscall record at base (SyscallRecordView.string). */
  argString(base: number, n: number): RawArgString | undefined {
    if ((this.#u32[(base >>> 2) + W_SIZE] as number) < STRINGS_RECORD.size) return undefined;
    if (!(n >= 0 && n < STRINGS_RECORD.fields.strings.length)) return undefined;
    const at = base + STRINGS_AT + n * STRING.size;
    const flags = this.#u32[(at + STRING.fields.flags.offset) >>> 2] as number;
    const len = Math.min(this.#u32[(at + STRING.fields.len.offset) >>> 2] as number, STRING.fields.data.size);
    const data = at + STRING.fields.data.offset;
    return {
      bytes: new Uint8Array(this.#bytes.subarray(data, data + len)),
      truncated: (flags & STRING_TRUNCATED) !== 0,
      error: (flags & STRING_ERROR) !== 0,
    };
  }

  /**
   * A fixed char array at `at` of `cap` bytes: at most `len` bytes (clamped to cap), cut at the
   * first NUL, invalid UTF-8 replaced by U+FFFD.
   */
  #string(at: number, cap: number, len: number): string {
    const end = at + Math.min(len, cap);
    return this.#bytes.toString("utf8", at, this.#nul(at, end));
  }

  /** Index of the first NUL in [from, end), or end. */
  #nul(from: number, end: number): number {
    const b = this.#bytes;
    let i = from;
    while (i < end && b[i] !== 0) i++;
    return i;
  }

  /**
   * Splits a NUL-separated area: a NUL ends each piece; a last piece with no NUL (cut off by the
   * kernel side's buffer limit) is kept, and reported through `cut`.
   */
  #split(at: number, len: number): { parts: string[]; cut: boolean } {
    const parts: string[] = [];
    const end = at + len;
    let cut = false;
    let start = at;
    while (start < end) {
      const stop = this.#nul(start, end);
      parts.push(this.#bytes.toString("utf8", start, stop));
      if (stop === end) cut = true;
      start = stop + 1;
    }
    return { parts, cut };
  }

  #decodeExec(base: number, ktime: bigint): RawExecEvent {
    const E = L.exec;
    const flags = this.#u32[(base + E.flags) >>> 2] as number;
    return {
      op: "exec",
      ktime,
      task: this.decodeTask(base + E.task),
      parent: this.#key(base + E.parent),
      flags,
      filename: this.#string(base + E.filename, C.FILENAME_LEN, this.#u16(base + E.filename_len)),
      // The BPF side copies argv as is (argv[0]\0argv[1]\0…); RawExecEvent.args is argv[1..]. An
      // argument cut by ARGS_LEN is kept as far as it goes (the record has FLAG_TRUNC_ARGS).
      args: this.#split(base + E.args, Math.min(this.#u16(base + E.args_len), C.ARGS_LEN)).parts.slice(1),
      cwd: this.#cwd(base + E.cwd, this.#u16(base + E.cwd_len), flags),
      cgroupName: this.#string(base + E.cgroup_name, C.CGROUP_NAME_LEN, this.#u16(base + E.cgroup_name_len)),
      creds: this.#creds(base + E.creds),
    };
  }

  /**
   * bpf/lib/path.bpf.h writes the path's components innermost first, each NUL-terminated
   * ("bin\0local\0usr\0" for /usr/local/bin), because forward writes are what the verifier can
   * bound; cwd_len 0 with FLAG_ROOTCWD is "/", and FLAG_ERROR_CWD gives "". When the walk ran out
   * of buffer the outermost components are missing: the cut piece is dropped and the result
   * starts with "..." instead of "/", so a partial path never passes for a full one.
   */
  #cwd(at: number, len: number, flags: number): string {
    if (flags & C.processFlags.ERROR_CWD) return "";
    if (len === 0) return flags & C.processFlags.ROOTCWD ? "/" : "";
    const { parts, cut } = this.#split(at, Math.min(len, C.CWD_LEN));
    if (cut) parts.pop();
    let path = cut ? "..." : "";
    for (let i = parts.length - 1; i >= 0; i--) path += `/${parts[i]}`;
    return path === "" ? "/" : path;
  }

  #decodeSyscall(base: number, ktime: bigint): RawSyscallEvent {
    const w = base >>> 2;
    const q = base >>> 3;
    const u32 = this.#u32;
    const args = new Array<bigint>(SYSCALL_ARGS);
    for (let n = 0; n < SYSCALL_ARGS; n++) args[n] = this.#u64[q + Q_ARGS + n] as bigint;
    return {
      op: "syscall",
      ktime,
      task: this.decodeTask(base + SYS.task),
      hookId: u32[w + W_HOOK] as number,
      syscallNr: u32[w + W_NR] as number,
      action: u32[w + W_ACTION] as number,
      selector: u32[w + W_SELECTOR] as number,
      args,
      fdKind: FD_KINDS[u32[w + W_FD_KIND] as number] ?? "unknown",
      fdNsInum: u32[w + W_FD_NS] as number,
      signalErr: this.#i32[w + W_SIGNAL_ERR] as number,
      compat: ((u32[w + W_FLAGS] as number) & COMPAT) !== 0,
      nsChange: namespaceChangeAt(u32, w),
      strings: STRING_SLOTS.map((n) => this.argString(base, n)).filter(
        (x): x is RawArgString => x !== undefined,
      ),
      ...returnOf(this.returnTail(base)),
    };
  }
}

function returnOf(tail: { value: bigint; action: number } | undefined): Pick<RawSyscallEvent, "return"> {
  return tail === undefined ? {} : { return: tail };
}

function namespaceChangeAt(u32: Uint32Array, w: number): RawNamespaceChange {
  const target = new Array<number>(NS_COUNT);
  const before = new Array<number>(NS_COUNT);
  for (let i = 0; i < NS_COUNT; i++) {
    target[i] = u32[w + W_NS_TARGET + i] as number;
    before[i] = u32[w + W_TASK_NS + i] as number;
  }
  return {
    kinds: u32[w + W_NS_KINDS] as number,
    created: u32[w + W_NS_CREATED] as number,
    toHost: u32[w + W_NS_TO_HOST] as number,
    fromHost: u32[w + W_NS_FROM_HOST] as number,
    target,
    before,
  };
}
