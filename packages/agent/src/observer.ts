import { KPROBE_ACTION_SIGKILL, KPROBE_ACTION_SIGNAL } from "@nsguard/policy";
import type { GetEventsResponse } from "@nsguard/sdk";
import {
  type HookInfo,
  type RawEvent,
  type RecordBatch,
  type SyscallRecordView,
  throttleConstants,
} from "@nsguard/sensor";
import {
  type BuildContext,
  buildExecEvent,
  buildExitEvent,
  buildKprobeEvent,
  type KprobeHookSpec,
} from "./builder/event-builder.js";
import { entersHostFromContainer } from "./builder/namespace-changes.js";
import type { ProcessCache } from "./process/process-cache.js";

/** How an event is treated when listeners fall behind (see the event hub's fair queues). */
export interface PublishMeta {
  /** The source whose flood an event belongs to: the kernel cgroup id of its container. */
  source: number;
  /** Enforcement events: never evicted before ordinary ones. */
  priority: boolean;
}

/** Where built events go (the event hub). */
export interface EventSink {
  publish(event: GetEventsResponse, meta?: PublishMeta): void;
  /**
   * True while every listener is behind. The observer then stops taking records from the kernel,
   * so the kernel's fair-share throttle decides what is lost (instead of events being built and
   * then dropped at full queues), and the socket writes get the event loop.
   */
  readonly saturated: boolean;
  /** Called when the sink stops being saturated; returns the unsubscribe function. */
  onRoom(listener: () => void): () => void;
}

export interface ObserverDeps {
  cache: ProcessCache;
  sink: EventSink;
  context: BuildContext;
  /** Which policy hook a syscall record's cookie names (the sensor's registry). */
  hookInfo(hookId: number): HookInfo | undefined;
  /**
   * Every exec's container cgroup (nsguard_task.cgroup_id) and the container its name names (""
   * for none): how the workload scopes learn a new container at its first exec.
   */
  observeContainer?(cgroupId: bigint, containerId: string): void;
  /** Per-policy action counters (ListTracingPolicies NPOST/NENFORCE). */
  recordAction?(policyKey: string, action: "post" | "sigkill" | "monitor-sigkill"): void;
  onError?(err: unknown, record: { op: string }): void;
}

export interface ObserverStats {
  exec: number;
  clone: number;
  exit: number;
  syscall: number;
  /** Syscall records whose hook was unloaded before they were read. */
  unknownHook: number;
  /** Records that could not be turned into events (bug or inconsistent record), see onError. */
  errors: number;
  /** Times the observer stopped taking records because every listener was behind. */
  pauses: number;
}

/**
 * While paused, look again this often even without an onRoom call: a listener that went away or
 * drained without the sink noticing a transition must never leave the kernel unread for long.
 */
const PAUSE_RECHECK_MS = 100;
/**
 * Records handled before yielding to the event loop. A batch holds up to 10 ms of the ring (4096
 * records): handled in one go it keeps socket writes and HTTP/2 window updates waiting ~40 ms,
 * so a client is fed one flow-control window per batch and the pipeline stalls on the network
 * while the CPU is free. Slices keep the writes flowing between them.
 */
const RECORDS_PER_SLICE = 256;

/**
 * A record's container cgroup (nsguard_task.cgroup_id: a kernfs id, with NSGUARD_SOURCE_CGROUP_V1
 * for a v1 memory cgroup) as the hub's source key: the same container the kernel's flood
 * resistance counts. A kernfs id is the inode in its low 32 bits and a generation above it, which
 * only tells reused inodes apart; the key must be an exact number, so it is the inode, plus 2^32
 * for the v1 hierarchy (v1 and v2 inodes are numbered independently).
 */
function sourceKey(cgroupId: bigint): number {
  const inode = Number(cgroupId & 0xffff_ffffn);
  return (cgroupId & throttleConstants.cgroupV1Flag) === 0n ? inode : inode + 2 ** 32;
}

/**
 * Turns kernel records into process-cache updates and Tetragon events, in ring-buffer order.
 * Runs on the JS thread for each batch the native reader hands over; a record that fails is
 * counted and skipped, never stops the batch. A batch is released back to the reader only when
 * all its records are handled: while listeners are saturated the observer holds it, the reader
 * stops (it keeps at most two batches out), and records wait in the kernel ring.
 */
export class Observer {
  readonly stats: ObserverStats = {
    exec: 0,
    clone: 0,
    exit: 0,
    syscall: 0,
    unknownHook: 0,
    errors: 0,
    pauses: 0,
  };
  readonly #pending: { batch: RecordBatch; next: number }[] = [];
  readonly #specs = new Map<number, { info: HookInfo; native: KprobeHookSpec; compat: KprobeHookSpec }>();
  #recheck: NodeJS.Timeout | undefined;
  #resume: NodeJS.Immediate | undefined;
  // An onRoom call made synchronously from inside publish must not start a second pump loop.
  #pumping = false;
  readonly #stopRoom: () => void;

  constructor(private readonly deps: ObserverDeps) {
    this.#stopRoom = deps.sink.onRoom(() => this.#pump());
  }

  handleBatch(batch: RecordBatch): void {
    this.#pending.push({ batch, next: 0 });
    if (this.#pending.length === 1 && !this.#resume) this.#pump();
  }

  /** Stops listening for room; pending batches are released unprocessed. */
  close(): void {
    this.#stopRoom();
    clearTimeout(this.#recheck);
    clearImmediate(this.#resume);
    for (const { batch } of this.#pending.splice(0)) batch.release();
  }

  /** Records held because listeners are behind. */
  get backlog(): number {
    let n = 0;
    for (const p of this.#pending) n += p.batch.length - p.next;
    return n;
  }

  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      this.#drainPending();
    } finally {
      this.#pumping = false;
    }
  }

  #drainPending(): void {
    clearTimeout(this.#recheck);
    this.#recheck = undefined;
    clearImmediate(this.#resume);
    this.#resume = undefined;
    const { sink } = this.deps;
    let slice = RECORDS_PER_SLICE;
    while (this.#pending.length > 0) {
      const current = this.#pending[0] as { batch: RecordBatch; next: number };
      const { batch } = current;
      while (current.next < batch.length) {
        if (slice-- === 0) {
          this.#resume = setImmediate(() => this.#pump());
          return;
        }
        if (sink.saturated) {
          this.stats.pauses++;
          this.#recheck = setTimeout(() => this.#pump(), PAUSE_RECHECK_MS);
          this.#recheck.unref();
          return;
        }
        this.#handleAt(batch, current.next++);
      }
      this.#pending.shift();
      batch.release();
    }
  }

  #handleAt(batch: RecordBatch, i: number): void {
    const op = batch.op(i);
    try {
      if (op === "syscall") this.#handleSyscall(batch.syscall(i));
      else this.#handleLifecycle(batch.decode(i));
    } catch (err) {
      this.stats.errors++;
      this.deps.onError?.(err, { op });
    }
  }

  #handleLifecycle(raw: RawEvent): void {
    const { cache, sink, context } = this.deps;
    switch (raw.op) {
      case "exec":
        this.stats.exec++;
        this.deps.observeContainer?.(raw.task.cgroupId, cache.upsertFromExec(raw).containerId);
        sink.publish(buildExecEvent(raw, cache, context), {
          source: sourceKey(raw.task.cgroupId),
          priority: false,
        });
        return;
      case "clone":
        this.stats.clone++;
        cache.upsertFromClone(raw);
        return;
      case "exit":
        this.stats.exit++;
        // The cache keeps an exited process for a grace period, so the event still resolves it.
        cache.markExit(raw);
        sink.publish(buildExitEvent(raw, cache, context), {
          source: sourceKey(raw.task.cgroupId),
          priority: false,
        });
        return;
      case "syscall":
        // Syscall records are read in place (#handleSyscall); a decoded one is not expected here.
        throw new Error("syscall record handed to the lifecycle path");
    }
  }

  /**
   * One spec object per hook and ABI, kept while the hook is: the builder shares the last
   * message of a repeated call by spec (event-builder.ts), so the spec must not be a new object
   * per event.
   */
  #hookSpec(info: HookInfo, compat: boolean): KprobeHookSpec {
    let specs = this.#specs.get(info.hookId);
    if (!specs || specs.info !== info) {
      const { hook } = info;
      const spec = (functionName: string): KprobeHookSpec => ({
        functionName,
        policyName: info.policyName,
        args: hook.args,
        message: hook.message,
        tags: hook.tags,
        returnArg: hook.returnArg,
      });
      specs = {
        info,
        native: spec(hook.functionName),
        // The 32-bit entry is another kernel symbol (__ia32_sys_setns), as Tetragon names it.
        compat: spec(info.compatFunctionName ?? hook.functionName),
      };
      this.#specs.set(info.hookId, specs);
    }
    return compat ? specs.compat : specs.native;
  }

  #handleSyscall(raw: SyscallRecordView): void {
    this.stats.syscall++;
    const info = this.deps.hookInfo(raw.hookId);
    if (!info) {
      this.stats.unknownHook++;
      this.#specs.delete(raw.hookId);
      return;
    }
    const { cache, sink, context } = this.deps;
    const { hook } = info;
    // Sigkill and Signal both sent a signal (Tetragon counts both as "signal"), at the call or,
    // for a return hook's matchReturnActions, at the return.
    const signalled =
      raw.action === KPROBE_ACTION_SIGKILL ||
      raw.action === KPROBE_ACTION_SIGNAL ||
      raw.returnAction === KPROBE_ACTION_SIGKILL;
    sink.publish(buildKprobeEvent(raw, this.#hookSpec(info, raw.compat), cache, context), {
      source: sourceKey(raw.cgroupId),
      // As in the kernel: an enforcement's report and an escape into the host are never a
      // flood's victims.
      priority: signalled || (raw.nsKinds !== 0 && entersHostFromContainer(raw)),
    });
    // In monitor mode a Sigkill or Signal selector posts instead; its table says so (monitorOnly).
    const selector = raw.selector > 0 ? hook.table.selectors[raw.selector - 1] : undefined;
    this.deps.recordAction?.(
      info.policyKey,
      signalled ? "sigkill" : selector?.monitorOnly ? "monitor-sigkill" : "post",
    );
  }
}
