import { clone } from "@bufbuild/protobuf";
import { type GetEventsResponse, PodSchema, type Process } from "@nsguard/sdk";
import type { PodInfoSource } from "./container/pod-info.js";
import type { EventSink, PublishMeta } from "./observer.js";
import type { ProcessCache } from "./process/process-cache.js";

export interface EventCacheOptions {
  podInfo: PodInfoSource;
  cache: Pick<ProcessCache, "get">;
  /** Where events go once they have their pod, or once waiting gave up (the event hub). */
  sink: EventSink;
  /** How often held events are tried again. */
  retryIntervalMs?: number;
  /** How long an event waits for its pod before it is sent without one. */
  maxWaitMs?: number;
  /** Events held at most; beyond that an event is sent at once, without its pod. */
  maxEntries?: number;
  /**
   * Events of one container held at most (default maxEntries / 8): a flood from a container no
   * source knows must not take every slot and leave other containers' events without their pods.
   */
  maxPerContainer?: number;
  /**
   * After a container's event waited maxWaitMs in vain, its events go at once, without waiting,
   * for this long (the source is still asked now and then).
   */
  unknownContainerMs?: number;
  now?: () => number;
}

export interface EventCacheStats {
  /** Events waiting now. */
  held: number;
  /** Events that waited and then got their pod. */
  resolved: number;
  /** Events sent without their pod after maxWaitMs. */
  timedOut: number;
  /** Events sent without their pod at once because the cache, or its container's share, was full. */
  overflowed: number;
  /** Events sent at once without their pod because their container was not found shortly before. */
  unknownContainer: number;
}

interface Held {
  event: GetEventsResponse;
  meta: PublishMeta | undefined;
  since: number;
  /** The event's process's container id (Process.docker). */
  container: string;
}

/** Containers remembered as unknown at most (oldest forgotten first). */
const MAX_UNKNOWN_CONTAINERS = 4096;

/**
 * Events that arrive before their pod metadata (a container's first exec, before the runtime or
 * the informer has told us about the container) wait here, as in Tetragon's event cache: the
 * pod source is asked about the container (PodInfoSource.refresh), the event is tried again
 * every retryIntervalMs, and after maxWaitMs it is sent without the pod and counted — never
 * dropped. Events that need no pod (host processes, or pods already known) pass straight through;
 * an event of a process that already waits queues behind it, so one process's events keep their
 * order.
 *
 * It sits between the observer and the hub (an EventSink in, an EventSink out), so the build path
 * stays synchronous and the hub's fairness applies to events as they leave.
 */
export class EventCache implements EventSink {
  readonly #podInfo: PodInfoSource;
  readonly #cache: Pick<ProcessCache, "get">;
  readonly #sink: EventSink;
  readonly #retryMs: number;
  readonly #maxWaitMs: number;
  readonly #maxEntries: number;
  readonly #maxPerContainer: number;
  readonly #unknownMs: number;
  readonly #now: () => number;
  /** Held events per container id. */
  readonly #perContainer = new Map<string, number>();
  /** Container id → until when its events go without waiting (insertion order = oldest first). */
  readonly #unknown = new Map<string, number>();
  /** Insertion order = arrival order. */
  readonly #held: Held[] = [];
  /** exec_ids with an event waiting: their later events wait behind it. */
  readonly #waitingProcesses = new Map<string, number>();
  /** Container ids the source is being asked about now. */
  readonly #refreshing = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #resolved = 0;
  #timedOut = 0;
  #overflowed = 0;
  #unknownContainer = 0;

  constructor(options: EventCacheOptions) {
    this.#podInfo = options.podInfo;
    this.#cache = options.cache;
    this.#sink = options.sink;
    this.#retryMs = options.retryIntervalMs ?? 250;
    this.#maxWaitMs = options.maxWaitMs ?? 5000;
    this.#maxEntries = options.maxEntries ?? 8192;
    this.#maxPerContainer = options.maxPerContainer ?? Math.max(1, Math.floor(this.#maxEntries / 8));
    this.#unknownMs = options.unknownContainerMs ?? 30_000;
    this.#now = options.now ?? Date.now;
  }

  get saturated(): boolean {
    return this.#sink.saturated;
  }

  onRoom(listener: () => void): () => void {
    return this.#sink.onRoom(listener);
  }

  stats(): EventCacheStats {
    return {
      held: this.#held.length,
      resolved: this.#resolved,
      timedOut: this.#timedOut,
      overflowed: this.#overflowed,
      unknownContainer: this.#unknownContainer,
    };
  }

  publish(event: GetEventsResponse, meta?: PublishMeta): void {
    const process = processOf(event);
    const waitsBehind = process !== undefined && this.#waitingProcesses.has(process.execId);
    if (!waitsBehind && !missingPod(event)) {
      this.#sink.publish(event, meta);
      return;
    }
    const filled = waitsBehind ? undefined : this.#fill(event);
    if (filled) {
      this.#sink.publish(filled, meta);
      return;
    }
    const container = process?.docker ?? "";
    const now = this.#now();
    if (!waitsBehind && this.#knownUnknown(container, now)) {
      this.#unknownContainer++;
      this.#sink.publish(event, meta);
      return;
    }
    if (
      this.#held.length >= this.#maxEntries ||
      (this.#perContainer.get(container) ?? 0) >= this.#maxPerContainer
    ) {
      this.#overflowed++;
      this.#sink.publish(event, meta);
      return;
    }
    this.#held.push({ event, meta, since: now, container });
    this.#perContainer.set(container, (this.#perContainer.get(container) ?? 0) + 1);
    if (process)
      this.#waitingProcesses.set(process.execId, (this.#waitingProcesses.get(process.execId) ?? 0) + 1);
    this.#askAbout(event);
    this.#timer ??= setInterval(() => this.retry(), this.#retryMs).unref();
  }

  /**
   * Tries every held event again, in arrival order: those whose pod is known now are sent, those
   * that waited maxWaitMs are sent without it. An event stops at the first of its process's still
   * waiting (order within a process is kept).
   */
  retry(): void {
    const now = this.#now();
    const stillWaiting = new Set<string>();
    let kept = 0;
    for (const held of this.#held) {
      const execId = processOf(held.event)?.execId;
      const blocked = execId !== undefined && stillWaiting.has(execId);
      const filled = blocked ? undefined : missingPod(held.event) ? this.#fill(held.event) : held.event;
      if (filled || now - held.since >= this.#maxWaitMs) {
        if (filled) this.#resolved++;
        else {
          this.#timedOut++;
          if (missingPod(held.event)) this.#rememberUnknown(held.container, now);
        }
        this.#release(execId, held.container);
        this.#sink.publish(filled ?? held.event, held.meta);
        continue;
      }
      if (execId !== undefined) stillWaiting.add(execId);
      this.#held[kept++] = held;
    }
    this.#held.length = kept;
    if (kept === 0) this.#stopTimer();
  }

  /** Sends everything still held, as it is (shutdown). */
  close(): void {
    this.#stopTimer();
    for (const held of this.#held.splice(0)) {
      this.#timedOut++;
      this.#sink.publish(held.event, held.meta);
    }
    this.#waitingProcesses.clear();
    this.#perContainer.clear();
  }

  /** The container was looked for in vain lately; asks the source again once that has expired. */
  #knownUnknown(container: string, now: number): boolean {
    const until = this.#unknown.get(container);
    if (until === undefined) return false;
    if (now < until) return true;
    this.#unknown.delete(container);
    return false;
  }

  #rememberUnknown(container: string, now: number): void {
    this.#unknown.delete(container);
    this.#unknown.set(container, now + this.#unknownMs);
    if (this.#unknown.size > MAX_UNKNOWN_CONTAINERS) {
      const oldest = this.#unknown.keys().next().value;
      if (oldest !== undefined) this.#unknown.delete(oldest);
    }
  }

  #release(execId: string | undefined, container: string): void {
    const left = (this.#perContainer.get(container) ?? 1) - 1;
    if (left > 0) this.#perContainer.set(container, left);
    else this.#perContainer.delete(container);
    if (execId === undefined) return;
    const n = (this.#waitingProcesses.get(execId) ?? 1) - 1;
    if (n > 0) this.#waitingProcesses.set(execId, n);
    else this.#waitingProcesses.delete(execId);
  }

  #stopTimer(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Asks the source about the event's containers (once at a time per container) and retries when it has answered. */
  #askAbout(event: GetEventsResponse): void {
    if (!this.#podInfo.refresh) return;
    for (const p of processesOf(event)) {
      if (p.docker === "" || p.pod || this.#refreshing.has(p.docker)) continue;
      this.#refreshing.add(p.docker);
      void this.#podInfo.refresh(p.docker).finally(() => {
        this.#refreshing.delete(p.docker);
        if (this.#held.length > 0) this.retry();
      });
    }
  }

  /** The event with its processes' pods from the process cache (which asks the pod source), or undefined while the process's is missing. */
  #fill(event: GetEventsResponse): GetEventsResponse | undefined {
    const e = event.event;
    if (e.case !== "processExec" && e.case !== "processExit" && e.case !== "processKprobe") return event;
    const process = withPod(e.value.process, this.#cache);
    if (process === undefined) return undefined;
    // The parent's pod is best effort: it may be a runtime process on the host.
    const parent = withPod(e.value.parent, this.#cache) ?? e.value.parent;
    if (process === e.value.process && parent === e.value.parent) return event;
    return {
      ...event,
      event: { ...e, value: { ...e.value, process, parent } } as GetEventsResponse["event"],
    };
  }
}

/** The process message with its pod; itself when it needs none; undefined while it is unknown. */
function withPod(process: Process | undefined, cache: Pick<ProcessCache, "get">): Process | undefined {
  if (!process || process.docker === "" || process.pod) return process;
  const pod = cache.get(process.execId)?.pod;
  // A copy: the cache's objects must not be reachable from published (immutable) events.
  return pod ? { ...process, pod: clone(PodSchema, pod) } : undefined;
}

function processOf(event: GetEventsResponse): Process | undefined {
  const e = event.event;
  return e.case === "processExec" || e.case === "processExit" || e.case === "processKprobe"
    ? e.value.process
    : undefined;
}

function processesOf(event: GetEventsResponse): Process[] {
  const e = event.event;
  if (e.case !== "processExec" && e.case !== "processExit" && e.case !== "processKprobe") return [];
  return [e.value.process, e.value.parent].filter((p): p is Process => p !== undefined);
}

/** A process of the event runs in a container (has a container id) and has no pod yet. */
function missingPod(event: GetEventsResponse): boolean {
  const p = processOf(event);
  return p !== undefined && p.docker !== "" && p.pod === undefined;
}
