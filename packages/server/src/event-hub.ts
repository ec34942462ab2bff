import type { EventPredicate, GetEventsResponse } from "@nsguard/sdk";
import { FairQueue } from "./fair-queue.js";
import { HubEvent, type PublishMeta } from "./hub-event.js";
import type { EventSource, SubscribeOptions } from "./interfaces.js";

/** Tetragon's `--event-queue-size` default. */
export const DEFAULT_EVENT_QUEUE_SIZE = 10000;
/** Per-subscriber bound on the encoded size of queued events, whatever their count. */
export const DEFAULT_EVENT_QUEUE_BYTES = 32 * 1024 * 1024;
/** Listeners that are all behind and have taken nothing for this long are stalled (see saturated). */
export const STALLED_AFTER_MS = 2000;

export interface EventHubOptions {
  /** Per-subscriber queue capacity (events) when `subscribe` does not name one. Default 10000. */
  queueSize?: number;
  /** Per-subscriber queue capacity (encoded bytes) when `subscribe` does not name one. Default 32 MiB. */
  queueBytes?: number;
}

/**
 * Counters of one live subscriber. All counts are since it subscribed, and while it is
 * subscribed `offered = delivered + dropped + evicted + queueLength` holds exactly.
 */
export interface SubscriberStats {
  readonly id: number;
  readonly label: string;
  /** Events that passed the filter. */
  readonly offered: number;
  /** Events that passed the filter and were queued (or handed straight to a waiting reader). */
  readonly queued: number;
  /** Events the reader has taken. */
  readonly delivered: number;
  /** Events that passed the filter but were refused by the full queue. */
  readonly dropped: number;
  /** Queued events later removed to make room for another source's or a priority event. */
  readonly evicted: number;
  /** Events the filter rejected. */
  readonly filtered: number;
  /** Events whose filter threw; they are not delivered. */
  readonly filterErrors: number;
  /** Events waiting in the queue now. */
  readonly queueLength: number;
  readonly queueSize: number;
  /** Encoded size of the events waiting in the queue now. */
  readonly queuedBytes: number;
  readonly byteCapacity: number;
}

export interface EventHubStats {
  /** Events published since the hub was created. */
  readonly published: number;
  /**
   * Events lost at a subscriber queue, refused or evicted, over all subscribers including ones
   * that have gone (Tetragon's `tetragon_notify_overflowed_events_total`).
   */
  readonly dropped: number;
  /** The part of {@link dropped} that was evicted by fair sharing. */
  readonly evicted: number;
  readonly subscribers: number;
  /** See {@link EventHub.saturated}. */
  readonly saturated: boolean;
  readonly perSubscriber: readonly SubscriberStats[];
}

/**
 * The fan-out point between the event builder and every listener (gRPC streams, exporter).
 *
 * `publish` is synchronous and never waits for a reader: each subscriber has its own queue,
 * bounded in count and in encoded bytes, so a stalled listener costs other listeners nothing
 * and the agent bounded memory. A full queue makes room fairly (see `fair-queue.ts`): the
 * heaviest source loses first, priority events last. Every event a subscriber loses is
 * counted, for it and in the hub total. Filters run at publish time, so rejected events cost
 * no queue space.
 *
 * Backpressure: {@link saturated} tells the producer that every listener is behind, so it
 * should stop pulling events from the kernel (whose fair-share throttle then decides what is
 * lost, before anything is built); {@link onRoom} says when to resume.
 */
export class EventHub implements EventSource {
  readonly queueSize: number;
  readonly queueBytes: number;
  readonly #subscribers = new Set<EventSubscription>();
  readonly #roomListeners = new Set<() => void>();
  #published = 0;
  #dropped = 0;
  #evicted = 0;
  #behind = 0;
  #saturated = false;
  #lastTakenMs = performance.now();
  #nextId = 1;

  constructor(options: EventHubOptions = {}) {
    this.queueSize = options.queueSize ?? DEFAULT_EVENT_QUEUE_SIZE;
    this.queueBytes = options.queueBytes ?? DEFAULT_EVENT_QUEUE_BYTES;
    // Fail at construction rather than at the first subscribe.
    new FairQueue(this.queueSize, this.queueBytes);
  }

  /**
   * Offers `message` to every subscriber. Never blocks, never awaits, never throws because of
   * a subscriber. Returns the shared {@link HubEvent}; its encoding is computed here when some
   * subscriber queues it (the queue's byte bound needs its size), once for all of them.
   */
  publish(message: GetEventsResponse, meta?: PublishMeta): HubEvent {
    const event = new HubEvent(message, meta);
    this.#published++;
    let recipients = 0;
    for (const subscriber of this.#subscribers) {
      if (subscriber.offer(event)) {
        recipients++;
      }
    }
    // Readers handed the event above only run after this synchronous loop, so they all see
    // the final count.
    event.recipients = recipients;
    return event;
  }

  /**
   * True when there is at least one subscriber and every one of them is behind: its queue is
   * more than half full, in count or in bytes. It stays true until one drains to a quarter
   * (hysteresis, so the producer does not flap) or the set of subscribers changes. One
   * stalled subscriber alone saturates the hub; a stalled one next to live ones does not (it
   * loses events at its own queue, counted).
   */
  get saturated(): boolean {
    // Behind but nobody has taken anything for a while: the listeners are stalled, not slow.
    // Pausing for them would leave the kernel unread for as long as a client cares to hang, so
    // the producer goes on and their queues drop (counted). (Re-checked by the producer's own
    // timer: no transition is signalled for it.)
    return this.#saturated && performance.now() - this.#lastTakenMs < STALLED_AFTER_MS;
  }

  /**
   * Calls `listener` synchronously, once per transition, whenever the hub goes from saturated
   * to not saturated. It may run inside a reader's `next()`/`drain()` or a subscribe/close;
   * publishing from it is allowed. Returns a function that removes the listener.
   */
  onRoom(listener: () => void): () => void {
    const own = () => listener();
    this.#roomListeners.add(own);
    return () => this.#roomListeners.delete(own);
  }

  /**
   * Registers a subscriber. The returned subscription is an async iterable of events that
   * ends when `signal` aborts (or the iteration is left early); either way its queue is
   * released and it stops counting as a subscriber.
   */
  subscribe(options: SubscribeOptions): EventSubscription {
    const id = this.#nextId++;
    const subscription = new EventSubscription(
      id,
      options.label ?? `subscriber-${id}`,
      new FairQueue(options.queueSize ?? this.queueSize, options.queueBytes ?? this.queueBytes),
      options.filter,
      this.#hooks,
    );
    if (options.signal.aborted) {
      subscription.close();
      return subscription;
    }
    this.#subscribers.add(subscription);
    this.#update();
    subscription.closeOn(options.signal);
    return subscription;
  }

  get subscriberCount(): number {
    return this.#subscribers.size;
  }

  stats(): EventHubStats {
    return {
      published: this.#published,
      dropped: this.#dropped,
      evicted: this.#evicted,
      subscribers: this.#subscribers.size,
      saturated: this.#saturated,
      perSubscriber: [...this.#subscribers].map((s) => s.stats()),
    };
  }

  // What subscriptions report back; one object shared by all of them.
  readonly #hooks: SubscriptionHooks = {
    lost: (dropped, evicted) => {
      this.#dropped += dropped + evicted;
      this.#evicted += evicted;
    },
    behind: (delta) => {
      this.#behind += delta;
      this.#update();
    },
    took: () => {
      this.#lastTakenMs = performance.now();
    },
    closed: (s, wasBehind) => {
      if (this.#subscribers.delete(s)) {
        // Both at once: leaving must not look like a moment of room to the producer.
        this.#behind -= wasBehind ? 1 : 0;
        this.#update();
      }
    },
  };

  #update(): void {
    const saturated = this.#subscribers.size > 0 && this.#behind === this.#subscribers.size;
    if (saturated === this.#saturated) {
      return;
    }
    this.#saturated = saturated;
    if (!saturated) {
      for (const listener of this.#roomListeners) {
        listener();
      }
    }
  }
}

/** @internal How a subscription tells its hub about losses, watermarks and closing. */
interface SubscriptionHooks {
  lost(dropped: number, evicted: number): void;
  /** +1: crossed the high-water mark; -1: drained to the low-water mark. */
  behind(delta: 1 | -1): void;
  /** A reader took events from its queue. */
  took(): void;
  closed(s: EventSubscription, wasBehind: boolean): void;
}

type Waiter = (result: IteratorResult<HubEvent, undefined>) => void;

/** One subscriber's queue and counters; iterate it to receive events. */
export class EventSubscription implements AsyncIterableIterator<HubEvent, undefined> {
  readonly id: number;
  readonly label: string;
  readonly #queue: FairQueue;
  readonly #filter: EventPredicate | undefined;
  readonly #hub: SubscriptionHooks;
  // Watermarks (see EventHub.saturated): behind above either high mark, caught up again at or
  // below both low marks.
  readonly #highCount: number;
  readonly #highBytes: number;
  readonly #lowCount: number;
  readonly #lowBytes: number;
  // Readers parked in next() while the queue is empty (normally at most one: for-await).
  readonly #waiters: Waiter[] = [];
  #closed = false;
  #behind = false;
  #detach: (() => void) | undefined;
  #offered = 0;
  #queued = 0;
  #delivered = 0;
  #dropped = 0;
  #filtered = 0;
  #filterErrors = 0;

  /** @internal Created by {@link EventHub.subscribe}. */
  constructor(
    id: number,
    label: string,
    queue: FairQueue,
    filter: EventPredicate | undefined,
    hub: SubscriptionHooks,
  ) {
    this.id = id;
    this.label = label;
    this.#queue = queue;
    this.#filter = filter;
    this.#hub = hub;
    this.#highCount = Math.floor(queue.capacity / 2);
    this.#highBytes = Math.floor(queue.byteCapacity / 2);
    this.#lowCount = Math.floor(queue.capacity / 4);
    this.#lowBytes = Math.floor(queue.byteCapacity / 4);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** @internal Called by the hub at publish time; true when the event was taken. */
  offer(event: HubEvent): boolean {
    if (this.#closed) {
      return false;
    }
    if (this.#filter) {
      let pass: boolean;
      try {
        pass = this.#filter(event.message);
      } catch {
        // A filter that throws on one event must not take down publish for everyone;
        // the event simply does not reach this subscriber.
        this.#filterErrors++;
        return false;
      }
      if (!pass) {
        this.#filtered++;
        return false;
      }
    }
    this.#offered++;
    const waiter = this.#waiters.shift();
    if (waiter) {
      this.#queued++;
      this.#delivered++;
      waiter({ value: event, done: false });
      return true;
    }
    const queue = this.#queue;
    const evictedBefore = queue.evicted;
    const taken = queue.push(event, event.bytes.byteLength);
    const evicted = queue.evicted - evictedBefore;
    if (taken) {
      this.#queued++;
    } else {
      this.#dropped++;
    }
    if (!taken || evicted > 0) {
      this.#hub.lost(taken ? 0 : 1, evicted);
    }
    if (!this.#behind && (queue.length > this.#highCount || queue.bytes > this.#highBytes)) {
      this.#behind = true;
      this.#hub.behind(1);
    }
    return taken;
  }

  /** @internal Ends the subscription when `signal` aborts. */
  closeOn(signal: AbortSignal): void {
    const onAbort = () => this.close();
    signal.addEventListener("abort", onAbort, { once: true });
    this.#detach = () => signal.removeEventListener("abort", onAbort);
  }

  /** Unsubscribes: releases the queue (undelivered events are discarded) and ends iteration. */
  close(): void {
    if (this.#closed) {
      return;
    }
    this.#closed = true;
    this.#detach?.();
    this.#detach = undefined;
    this.#queue.clear();
    const wasBehind = this.#behind;
    this.#behind = false;
    this.#hub.closed(this, wasBehind);
    for (const waiter of this.#waiters.splice(0)) {
      waiter({ value: undefined, done: true });
    }
  }

  next(): Promise<IteratorResult<HubEvent, undefined>> {
    const event = this.#queue.shift();
    if (event) {
      this.#delivered++;
      this.#caughtUp();
      return Promise.resolve({ value: event, done: false });
    }
    if (this.#closed) {
      return Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /**
   * Takes, without waiting, queued events in order, as many as fit in `maxBytes` of encoded
   * size and at most `max`: lets a writer send what piled up while it was busy in one write
   * instead of one write per event.
   */
  drain(max: number, maxBytes = Number.POSITIVE_INFINITY): HubEvent[] {
    const out: HubEvent[] = [];
    const queue = this.#queue;
    let budget = maxBytes;
    for (let size = queue.peekSize(); size !== undefined && size <= budget && out.length < max; ) {
      budget -= size;
      out.push(queue.shift() as HubEvent);
      size = queue.peekSize();
    }
    this.#delivered += out.length;
    this.#caughtUp();
    return out;
  }

  /** Called when a for-await loop is left early (break, throw, or the stream's consumer going away). */
  return(): Promise<IteratorResult<HubEvent, undefined>> {
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  stats(): SubscriberStats {
    return {
      id: this.id,
      label: this.label,
      offered: this.#offered,
      queued: this.#queued,
      delivered: this.#delivered,
      dropped: this.#dropped,
      evicted: this.#queue.evicted,
      filtered: this.#filtered,
      filterErrors: this.#filterErrors,
      queueLength: this.#queue.length,
      queueSize: this.#queue.capacity,
      queuedBytes: this.#queue.bytes,
      byteCapacity: this.#queue.byteCapacity,
    };
  }

  #caughtUp(): void {
    this.#hub.took();
    if (this.#behind && this.#queue.length <= this.#lowCount && this.#queue.bytes <= this.#lowBytes) {
      this.#behind = false;
      this.#hub.behind(-1);
    }
  }
}
