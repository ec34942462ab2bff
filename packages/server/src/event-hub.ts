import type { EventPredicate, GetEventsResponse } from "@nsguard/sdk";
import { BoundedQueue } from "./bounded-queue.js";
import { HubEvent } from "./hub-event.js";
import type { EventSource, SubscribeOptions } from "./interfaces.js";

/** Tetragon's `--event-queue-size` default. */
export const DEFAULT_EVENT_QUEUE_SIZE = 10000;

export interface EventHubOptions {
  /** Per-subscriber queue capacity when `subscribe` does not name one. Default 10000. */
  queueSize?: number;
}

/** Counters of one live subscriber. All counts are since it subscribed. */
export interface SubscriberStats {
  readonly id: number;
  readonly label: string;
  /** Events that passed the filter and were queued (or handed straight to a waiting reader). */
  readonly queued: number;
  /** Events the reader has taken. */
  readonly delivered: number;
  /** Events that passed the filter but found the queue full. */
  readonly dropped: number;
  /** Events the filter rejected. */
  readonly filtered: number;
  /** Events whose filter threw; they are not delivered. */
  readonly filterErrors: number;
  /** Events waiting in the queue now. */
  readonly queueLength: number;
  readonly queueSize: number;
}

export interface EventHubStats {
  /** Events published since the hub was created. */
  readonly published: number;
  /**
   * Overflow drops over all subscribers, including ones that have gone
   * (Tetragon's `tetragon_notify_overflowed_events_total`).
   */
  readonly dropped: number;
  readonly subscribers: number;
  readonly perSubscriber: readonly SubscriberStats[];
}

/**
 * The fan-out point between the event builder and every listener (gRPC streams, exporter).
 *
 * `publish` is synchronous and never waits for a reader: each subscriber has its own bounded
 * queue, and an event that finds it full is dropped for that subscriber only and counted —
 * the producer (ultimately the ring-buffer reader) must never stall because one client is
 * slow. Filters run at publish time, so rejected events cost no queue space.
 */
export class EventHub implements EventSource {
  readonly queueSize: number;
  readonly #subscribers = new Set<EventSubscription>();
  #published = 0;
  #dropped = 0;
  #nextId = 1;

  constructor(options: EventHubOptions = {}) {
    this.queueSize = options.queueSize ?? DEFAULT_EVENT_QUEUE_SIZE;
    // Fail at construction rather than at the first subscribe.
    new BoundedQueue<never>(this.queueSize);
  }

  /**
   * Offers `message` to every subscriber. Never blocks, never awaits, never throws because of
   * a subscriber. Returns the shared {@link HubEvent} (its encoding is computed on first use).
   */
  publish(message: GetEventsResponse): HubEvent {
    const event = new HubEvent(message);
    this.#published++;
    let recipients = 0;
    for (const subscriber of this.#subscribers) {
      const outcome = subscriber.offer(event);
      if (outcome === "queued") {
        recipients++;
      } else if (outcome === "dropped") {
        this.#dropped++;
      }
    }
    // Readers handed the event above only run after this synchronous loop, so they all see
    // the final count.
    event.recipients = recipients;
    return event;
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
      options.queueSize ?? this.queueSize,
      options.filter,
      (s) => this.#subscribers.delete(s),
    );
    if (options.signal.aborted) {
      subscription.close();
      return subscription;
    }
    this.#subscribers.add(subscription);
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
      subscribers: this.#subscribers.size,
      perSubscriber: [...this.#subscribers].map((s) => s.stats()),
    };
  }
}

type Waiter = (result: IteratorResult<HubEvent, undefined>) => void;

/** What became of an offered event: taken (queued or handed over), refused by the filter, or dropped (queue full). */
type OfferOutcome = "queued" | "rejected" | "dropped";

/** One subscriber's queue and counters; iterate it to receive events. */
export class EventSubscription implements AsyncIterableIterator<HubEvent, undefined> {
  readonly id: number;
  readonly label: string;
  readonly #queue: BoundedQueue<HubEvent>;
  readonly #filter: EventPredicate | undefined;
  readonly #onClose: (s: EventSubscription) => void;
  // Readers parked in next() while the queue is empty (normally at most one: for-await).
  readonly #waiters: Waiter[] = [];
  #closed = false;
  #detach: (() => void) | undefined;
  #queued = 0;
  #delivered = 0;
  #dropped = 0;
  #filtered = 0;
  #filterErrors = 0;

  /** @internal Created by {@link EventHub.subscribe}. */
  constructor(
    id: number,
    label: string,
    queueSize: number,
    filter: EventPredicate | undefined,
    onClose: (s: EventSubscription) => void,
  ) {
    this.id = id;
    this.label = label;
    this.#queue = new BoundedQueue(queueSize);
    this.#filter = filter;
    this.#onClose = onClose;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** @internal Called by the hub at publish time. */
  offer(event: HubEvent): OfferOutcome {
    if (this.#closed) {
      return "rejected";
    }
    if (this.#filter) {
      let pass: boolean;
      try {
        pass = this.#filter(event.message);
      } catch {
        // A filter that throws on one event must not take down publish for everyone;
        // the event simply does not reach this subscriber.
        this.#filterErrors++;
        return "rejected";
      }
      if (!pass) {
        this.#filtered++;
        return "rejected";
      }
    }
    const waiter = this.#waiters.shift();
    if (waiter) {
      this.#queued++;
      this.#delivered++;
      waiter({ value: event, done: false });
      return "queued";
    }
    if (!this.#queue.push(event)) {
      this.#dropped++;
      return "dropped";
    }
    this.#queued++;
    return "queued";
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
    this.#onClose(this);
    for (const waiter of this.#waiters.splice(0)) {
      waiter({ value: undefined, done: true });
    }
  }

  next(): Promise<IteratorResult<HubEvent, undefined>> {
    const event = this.#queue.shift();
    if (event) {
      this.#delivered++;
      return Promise.resolve({ value: event, done: false });
    }
    if (this.#closed) {
      return Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /**
   * Takes up to `max` events already queued, without waiting: lets a writer send what piled up
   * while it was busy in one write instead of one write per event.
   */
  drain(max: number): HubEvent[] {
    const out: HubEvent[] = [];
    for (let event = out.length < max ? this.#queue.shift() : undefined; event; ) {
      out.push(event);
      event = out.length < max ? this.#queue.shift() : undefined;
    }
    this.#delivered += out.length;
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
      queued: this.#queued,
      delivered: this.#delivered,
      dropped: this.#dropped,
      filtered: this.#filtered,
      filterErrors: this.#filterErrors,
      queueLength: this.#queue.size,
      queueSize: this.#queue.capacity,
    };
  }
}
