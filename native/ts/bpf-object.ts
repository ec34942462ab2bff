// SPDX-License-Identifier: Apache-2.0
import {
  type BpfObjectState,
  type EventStreamStats,
  type KernelCounters,
  type LinkInfo,
  type NativeBpfObject,
  type NativeEventStream,
  native,
  type PeerCredentials,
  type ProgramInfo,
  type ThrottleConstants,
  type ThrottleSource,
} from "./bindings.js";
import type { RawNamespaces } from "./raw-events.js";
import { RecordBatch } from "./record-batch.js";

export interface OpenOptions {
  /**
   * A loaded object whose maps this one reuses by name (bpf_map__reuse_fd before load), so both
   * write one ring buffer, one process table and one set of counters. Internal maps
   * (.rodata/.bss/.data) are never shared.
   */
  shareMapsWith?: BpfObject;
}

export interface EventStreamOptions {
  /**
   * Drain period in ms while records keep coming (1–60000, default 10): the BPF side submits
   * without waking a busy reader (BPF_RB_NO_WAKEUP), so this bounds delivery latency. An idle
   * reader sleeps until the first record wakes it (map nsguard_reader_state).
   */
  pollMs?: number;
  /** Most records per batch (default 4096). A batch is also cut at 1 MiB. */
  maxBatch?: number;
  /**
   * Called when onBatch throws (the batch is then released for it). Without it the exception is
   * rethrown on the next tick (an uncaught exception, as for an 'error' event without a listener).
   */
  onError?: (error: unknown) => void;
}

export interface EventIteratorOptions extends Omit<EventStreamOptions, "onError"> {
  /** Ends the iteration (and stops the stream) when aborted. */
  signal?: AbortSignal;
}

/**
 * A running ring-buffer reader. A native thread drains the ring buffer every pollMs and hands
 * batches (RecordBatch) to the JS thread; it never waits for JS: with two batches handed over and
 * not yet released it fills a third and then leaves records in the kernel ring buffer (the
 * bounded queue), whose overflow the kernel counts (readCounters().ringbufFull).
 */
export class EventStream {
  readonly #raw: NativeEventStream;

  /** @internal Use BpfObject.openEventStream(). */
  constructor(raw: NativeEventStream) {
    this.#raw = raw;
  }

  /** Stops the reader thread (joined before this returns). No callback runs after it. Idempotent. */
  stop(): void {
    this.#raw.stop();
  }

  /** Keeps the event loop alive while the stream runs (the default). */
  ref(): this {
    this.#raw.ref();
    return this;
  }

  /** Lets the process exit while the stream is still running. */
  unref(): this {
    this.#raw.unref();
    return this;
  }

  stats(): EventStreamStats {
    return this.#raw.stats();
  }

  get running(): boolean {
    return this.#raw.stats().running;
  }
}

/**
 * One BPF ELF object (libbpf bpf_object): open → load → attach programs, update its maps, read
 * its ring buffer. close() releases everything it holds in the kernel.
 */
export class BpfObject {
  readonly #raw: NativeBpfObject;
  readonly path: string;

  private constructor(raw: NativeBpfObject, path: string) {
    this.#raw = raw;
    this.path = path;
  }

  /** Opens (parses) an object file. Nothing reaches the kernel before load(). */
  static open(path: string, options: OpenOptions = {}): BpfObject {
    const share = options.shareMapsWith;
    if (share !== undefined && !(share instanceof BpfObject)) {
      throw new TypeError("shareMapsWith must be a BpfObject");
    }
    const raw = share === undefined ? new native.BpfObject(path) : new native.BpfObject(path, share.#raw);
    return new BpfObject(raw, path);
  }

  /** Loads maps and programs into the kernel. A verifier rejection is a BpfError with op "load" and verifierLog. */
  load(): void {
    this.#raw.__load();
  }

  programs(): string[] {
    return this.#raw.__programs();
  }

  maps(): string[] {
    return this.#raw.__maps();
  }

  /** Programs with their section and kernel id (0 before load). */
  programInfo(): ProgramInfo[] {
    return this.#raw.__programInfo();
  }

  /**
   * Attaches a SEC("tracepoint") program to `category/name` (e.g. "syscalls", "sys_enter_setns")
   * with a BPF cookie (the hook id, read by bpf_get_attach_cookie). Needs tracefs; a missing
   * tracepoint or tracefs is a BpfError op "attach", code "ENOENT". Returns a link id.
   */
  attachTracepoint(program: string, category: string, name: string, cookie?: number): number {
    return this.#raw.__attachTracepoint(program, category, name, cookie);
  }

  /** Attaches a program to the target named by its section (tp_btf/…, raw_tp/…). Returns a link id. */
  attach(program: string): number {
    return this.#raw.__attach(program);
  }

  /** Destroys a link. False when the id is unknown or already detached. */
  detach(linkId: number): boolean {
    return this.#raw.__detach(linkId);
  }

  links(): LinkInfo[] {
    return this.#raw.__links();
  }

  /**
   * Stops this object's event stream if one runs, destroys every link, then the object (its
   * programs and maps go away once nothing else holds them). Idempotent.
   */
  close(): void {
    this.#raw.__close();
  }

  state(): BpfObjectState {
    return this.#raw.__state();
  }

  /**
   * Writes one element of map `mapName` (bpf_map_update_elem, BPF_ANY) from raw bytes: the key
   * and value as the header lays them out (encodeStruct of @nsguard/kernel-contract). Lengths other
   * than the map's key/value size, a per-CPU map, or a kernel refusal (E2BIG: map full) throw
   * BpfError op "map_update".
   */
  updateMapElem(mapName: string, key: Uint8Array, value: Uint8Array): void {
    this.#raw.__updateMapElem(mapName, key, value);
  }

  /**
   * As updateMapElem, but only when the key is not there yet (BPF_NOEXIST): false, and nothing
   * written, when it is — an element the BPF programs wrote in the meantime is kept.
   */
  insertMapElem(mapName: string, key: Uint8Array, value: Uint8Array): boolean {
    return this.#raw.__insertMapElem(mapName, key, value);
  }

  /** Deletes one element of map `mapName` by its raw key. False when it was not there. */
  deleteMapElem(mapName: string, key: Uint8Array): boolean {
    return this.#raw.__deleteMapElem(mapName, key);
  }

  /**
   * The followChildren bits some process in the kernel's process table carries (the OR of
   * nsguard_proc.follow_bits), read without changing the table.
   */
  readProcsFollowBits(): bigint {
    return this.#raw.__readProcsFollowBits();
  }

  readCounters(): KernelCounters {
    return this.#raw.__readCounters();
  }

  /**
   * The sources flood resistance has accounted (map nsguard_sources, shared by every object):
   * per container cgroup (pid 0) and per process, with exact suppressed counts.
   */
  readSources(): ThrottleSource[] {
    return this.#raw.__readSources();
  }

  /**
   * Starts reading ring buffer map nsguard_events. onBatch runs on the JS thread with each batch
   * of records, read lazily (RecordBatch). Call batch.release() once done with it — now or later:
   * the reader hands over at most two unreleased batches, then leaves records in the kernel ring
   * (which counts what it cannot hold). A batch never released stalls the stream. One stream per
   * object (the objects sharing the map share the records: open it on one).
   */
  openEventStream(onBatch: (batch: RecordBatch) => void, options: EventStreamOptions = {}): EventStream {
    const { pollMs = 10, maxBatch = 4096, onError } = options;
    if (typeof onBatch !== "function") throw new TypeError("onBatch must be a function");
    const release = () => raw.releaseBatch();
    const deliver = (bytes: ArrayBuffer, count: number): void => {
      const batch = new RecordBatch(bytes, count, release);
      try {
        onBatch(batch);
      } catch (error) {
        // A consumer that threw will not release what it was given; the stream must go on.
        batch.release();
        if (onError) onError(error);
        else
          process.nextTick(() => {
            throw error;
          });
      }
    };
    // Batches arrive through the event loop, so never before `raw` is assigned.
    const raw = this.#raw.__openEventStream(deliver, pollMs, maxBatch);
    return new EventStream(raw);
  }

  /**
   * Async iteration over batches. Each batch is released when the loop asks for the next one (or
   * exits), so a slow loop holds records back in the kernel ring, which counts what it cannot
   * hold. The stream stops when the loop exits (break, throw, or the signal aborting).
   */
  async *events(options: EventIteratorOptions = {}): AsyncGenerator<RecordBatch, void, undefined> {
    const { signal, ...streamOptions } = options;
    if (signal?.aborted) return;
    // At most two unreleased batches exist (the reader's limit), so this queue stays that short.
    const queue: RecordBatch[] = [];
    let wake: (() => void) | undefined;
    const notify = () => {
      wake?.();
      wake = undefined;
    };
    const stream = this.openEventStream((batch) => {
      queue.push(batch);
      notify();
    }, streamOptions);
    signal?.addEventListener("abort", notify, { once: true });
    try {
      while (!signal?.aborted) {
        const batch = queue.shift();
        if (batch) {
          try {
            yield batch;
          } finally {
            batch.release();
          }
          continue;
        }
        await new Promise<void>((r) => {
          wake = r;
        });
      }
    } finally {
      signal?.removeEventListener("abort", notify);
      stream.stop();
      for (const batch of queue) batch.release();
    }
  }
}

/** CLOCK_REALTIME − CLOCK_BOOTTIME in ns: add to a record's ktime to get wall-clock ns. */
export function bootClockOffsetNs(): bigint {
  return native.bootClockOffsetNs();
}

/**
 * Returns memory malloc holds in its arenas to the kernel (glibc malloc_trim): after a burst the
 * agent's freed buffers otherwise stay resident. True when some was released.
 */
export function trimMemory(): boolean {
  return native.trimMemory();
}

/** Version of the libbpf the addon runs with, e.g. "1.1". */
/**
 * The host's namespace inode numbers — the kernel's initial namespaces, from kernel BTF (`enum
 * init_ns_ino`), as the syscall program's verdicts use them; undefined on kernels without it.
 */
export function hostNamespaceInums(): RawNamespaces | undefined {
  return native.hostNamespaceInums();
}

/**
 * Who is on the other end of a connected unix socket `fd` (for a net.Socket: `socket._handle.fd`):
 * pid, uid, gid and supplementary groups as they were at connect(). Throws BpfError (op
 * "getsockopt", code "ENOTSOCK"/"EBADF"/…) for anything that is not a connected unix socket.
 */
export function peerCredentials(fd: number): PeerCredentials {
  return native.peerCredentials(fd);
}

export function libbpfVersion(): string {
  return native.libbpfVersion();
}

/**
 * Raises RLIMIT_MEMLOCK to unlimited where allowed. Never throws: kernels ≥ 5.11 account BPF memory
 * to the memory cgroup, so the EPERM you get without CAP_SYS_RESOURCE (as on our CI VMs) is harmless.
 */
export function bumpMemlock() {
  return native.bumpMemlock();
}

/** Limits, ops, actions and flags from bpf/include/nsguard_events.h, as compiled into the addon. */
export const nativeConstants = native.constants;

/** Flood-resistance limits (ring size, watermarks, window) from bpf/include/nsguard_events.h. */
export const throttleConstants: ThrottleConstants = native.BpfObject.__throttleConstants;
