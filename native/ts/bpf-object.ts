// SPDX-License-Identifier: Apache-2.0
import {
  type BpfObjectState,
  type EventStreamStats,
  type HookTable,
  type KernelCounters,
  type LinkInfo,
  type NativeBpfObject,
  type NativeEventStream,
  native,
  type ProgramInfo,
  type SeedProcess,
} from "./bindings.js";
import type { RawEvent } from "./raw-events.js";

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
   * Reader wake-up period in ms (1–60000, default 10). The BPF side mostly submits without waking
   * the reader (BPF_RB_NO_WAKEUP), so this bounds delivery latency.
   */
  pollMs?: number;
  /** Most records per batch (default 4096). A batch is also cut at 1 MiB. */
  maxBatch?: number;
  /**
   * Called when onBatch throws. Without it the exception is rethrown on the next tick (an
   * uncaught exception, as for an 'error' event without a listener).
   */
  onError?: (error: unknown) => void;
}

export interface EventIteratorOptions extends Omit<EventStreamOptions, "onError"> {
  /** Ends the iteration (and stops the stream) when aborted. */
  signal?: AbortSignal;
  /** Batches buffered for a slow consumer before further batches are dropped (default 64). */
  highWaterMark?: number;
  /** Told how many records each dropped batch held (drops past highWaterMark are never silent). */
  onDrop?: (events: number) => void;
}

/**
 * A running ring-buffer reader. A native thread drains the ring buffer every pollMs and hands
 * batches to the JS thread; it never waits for JS: with two batches pending it fills a third and
 * then leaves records in the kernel ring buffer (the bounded queue), whose overflow the kernel
 * counts (readCounters().ringbufFull).
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

  /** Writes the hook table for `hookId` into map nsguard_hooks (validated against the header limits). */
  setHook(hookId: number, table: HookTable): void {
    this.#raw.__setHook(hookId, table);
  }

  /** Removes a hook table. False when it was not there. */
  deleteHook(hookId: number): boolean {
    return this.#raw.__deleteHook(hookId);
  }

  /**
   * The policy hooks to run for one ia32 (32-bit entry) syscall number, in map
   * nsguard_compat_hooks; an empty list removes the entry.
   */
  setCompatHooks(syscall: number, hookIds: readonly number[]): void {
    this.#raw.__setCompatHooks(syscall, hookIds);
  }

  /** Adds one process to the kernel process table (map nsguard_procs). */
  seedProcess(process: SeedProcess): void {
    this.#raw.__seedProcess(process);
  }

  /**
   * Adds many processes; all entries are validated before any is written. Returns the count
   * written; a kernel failure names how many were written before it.
   */
  seedProcesses(processes: readonly SeedProcess[]): number {
    return this.#raw.__seedProcesses(processes);
  }

  readCounters(): KernelCounters {
    return this.#raw.__readCounters();
  }

  /**
   * Starts reading ring buffer map nsguard_events. onBatch runs on the JS thread with decoded
   * records. One stream per object (the objects sharing the map share the records: open it on one).
   */
  openEventStream(onBatch: (events: RawEvent[]) => void, options: EventStreamOptions = {}): EventStream {
    const { pollMs = 10, maxBatch = 4096, onError } = options;
    if (typeof onBatch !== "function") throw new TypeError("onBatch must be a function");
    const deliver = (events: RawEvent[]): void => {
      try {
        onBatch(events);
      } catch (error) {
        if (onError) onError(error);
        else
          process.nextTick(() => {
            throw error;
          });
      }
    };
    return new EventStream(this.#raw.__openEventStream(deliver, pollMs, maxBatch));
  }

  /**
   * Async iteration over batches. The stream stops when the loop exits (break, throw, or the
   * signal aborting). A consumer more than highWaterMark batches behind loses the newest batches,
   * reported through onDrop.
   */
  async *events(options: EventIteratorOptions = {}): AsyncGenerator<RawEvent[], void, undefined> {
    const { signal, highWaterMark = 64, onDrop, ...streamOptions } = options;
    if (signal?.aborted) return;
    const queue: RawEvent[][] = [];
    let wake: (() => void) | undefined;
    const notify = () => {
      wake?.();
      wake = undefined;
    };
    const stream = this.openEventStream((batch) => {
      if (queue.length < highWaterMark) queue.push(batch);
      else onDrop?.(batch.length);
      notify();
    }, streamOptions);
    signal?.addEventListener("abort", notify, { once: true });
    try {
      while (!signal?.aborted) {
        const batch = queue.shift();
        if (batch) {
          yield batch;
          continue;
        }
        await new Promise<void>((r) => {
          wake = r;
        });
      }
    } finally {
      signal?.removeEventListener("abort", notify);
      stream.stop();
    }
  }
}

/** CLOCK_REALTIME − CLOCK_BOOTTIME in ns: add to a record's ktime to get wall-clock ns. */
export function bootClockOffsetNs(): bigint {
  return native.bootClockOffsetNs();
}

/** Version of the libbpf the addon runs with, e.g. "1.1". */
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

/**
 * Decodes ring-buffer samples exactly as the reader does (validation + decoding), one Uint8Array
 * per sample. For tests and for replaying captured records.
 */
export function decodeRecords(samples: readonly Uint8Array[]): { events: RawEvent[]; malformed: number } {
  return native.decodeRecords(samples);
}

/** Limits, ops, actions and flags from bpf/include/nsguard_events.h, as compiled into the addon. */
export const nativeConstants = native.constants;
