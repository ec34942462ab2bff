import type { HubEvent } from "./hub-event.js";

/**
 * One listener's queue of events: FIFO, bounded in count and in bytes, and fair when full.
 *
 * Events are delivered in arrival order. When an event does not fit, the queue makes room by
 * evicting from the heaviest source (the source with the most ordinary events queued) instead
 * of refusing whoever comes next, so one container flooding a slow listener cannot push out
 * another container's few events:
 * - a priority event (an enforcement, an entry into a host namespace) evicts the oldest
 *   ordinary event of the heaviest source; it is refused only when nothing but priority
 *   events is queued, so priority events are never lost before ordinary ones;
 * - an ordinary event evicts the oldest ordinary event of the heaviest source, unless its own
 *   source is (one of) the heaviest: then it is refused itself.
 * Order within a source is kept; order across sources changes only by evictions.
 *
 * Every operation is O(1): entries form a doubly linked list in arrival order (so an
 * eviction unlinks in place, no tombstones), ordinary entries are also chained per source,
 * and sources sit in buckets by their count, so the heaviest one is `#buckets[#maxCount]`
 * (counts change by one at a time, so the maximum moves by at most one per operation).
 */
export class FairQueue {
  readonly capacity: number;
  readonly byteCapacity: number;
  /** Events removed to make room for another (not counting refused newcomers). */
  evicted = 0;
  #length = 0;
  #bytes = 0;
  #head: Entry | undefined;
  #tail: Entry | undefined;
  readonly #sources = new Map<number, Source>();
  // #buckets[n]: first of the sources with exactly n ordinary events queued (n >= 1).
  #buckets: (Source | undefined)[] = [undefined];
  #maxCount = 0;

  constructor(capacity: number, byteCapacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`queue capacity must be a positive integer, got ${capacity}`);
    }
    if (!Number.isInteger(byteCapacity) || byteCapacity < 1) {
      throw new RangeError(`queue byte capacity must be a positive integer, got ${byteCapacity}`);
    }
    this.capacity = capacity;
    this.byteCapacity = byteCapacity;
  }

  get length(): number {
    return this.#length;
  }

  /** Sum of the queued events' encoded sizes. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Encoded size of the event `shift` would return, or undefined when empty. */
  peekSize(): number | undefined {
    return this.#head?.size;
  }

  /**
   * Queues `event` (of encoded size `size`), evicting as described above if it does not fit.
   * Returns false when the event itself is refused; the queue is then as it was, except that
   * under byte pressure some evictions may already have happened before the heaviest source
   * became the event's own (counted in {@link evicted}, like any eviction).
   */
  push(event: HubEvent, size: number): boolean {
    if (size > this.byteCapacity) {
      return false; // could never fit, whatever were evicted
    }
    while (this.#length >= this.capacity || this.#bytes + size > this.byteCapacity) {
      const heaviest = this.#buckets[this.#maxCount];
      if (heaviest === undefined) {
        return false; // only priority events are queued: they are kept, the newcomer is not
      }
      if (!event.priority && (this.#sources.get(event.source)?.count ?? 0) >= this.#maxCount) {
        return false; // its own source is the heaviest
      }
      this.#evict(heaviest);
    }
    const entry = new Entry(event, size);
    if (!event.priority) {
      let source = this.#sources.get(event.source);
      if (source === undefined) {
        source = new Source();
        this.#sources.set(event.source, source);
      }
      if (source.tail === undefined) {
        source.head = entry;
      } else {
        source.tail.nextInSource = entry;
      }
      source.tail = entry;
      entry.source = source;
      this.#moveUp(source);
    }
    entry.prev = this.#tail;
    if (this.#tail === undefined) {
      this.#head = entry;
    } else {
      this.#tail.next = entry;
    }
    this.#tail = entry;
    this.#length++;
    this.#bytes += size;
    return true;
  }

  /** Removes and returns the oldest event, or undefined when empty. */
  shift(): HubEvent | undefined {
    const entry = this.#head;
    if (entry === undefined) {
      return undefined;
    }
    // The oldest entry overall is also the oldest of its source: evictions only ever take a
    // source's oldest, so nothing older of that source can still be queued.
    this.#remove(entry);
    return entry.event;
  }

  /** Drops everything. */
  clear(): void {
    this.#head = this.#tail = undefined;
    this.#sources.clear();
    this.#buckets = [undefined];
    this.#maxCount = 0;
    this.#length = 0;
    this.#bytes = 0;
  }

  #evict(source: Source): void {
    this.#remove(source.head as Entry);
    this.evicted++;
  }

  /** Unlinks `entry`, which is the head of its source's chain (if it has a source). */
  #remove(entry: Entry): void {
    if (entry.prev === undefined) {
      this.#head = entry.next;
    } else {
      entry.prev.next = entry.next;
    }
    if (entry.next === undefined) {
      this.#tail = entry.prev;
    } else {
      entry.next.prev = entry.prev;
    }
    const source = entry.source;
    if (source !== undefined) {
      source.head = entry.nextInSource;
      if (source.head === undefined) {
        source.tail = undefined;
        this.#sources.delete(entry.event.source);
      }
      this.#moveDown(source);
    }
    this.#length--;
    this.#bytes -= entry.size;
  }

  // A source's count goes up by one: move it to the next bucket.
  #moveUp(source: Source): void {
    if (source.count > 0) {
      this.#unbucket(source);
    }
    source.count++;
    this.#bucket(source);
    if (source.count > this.#maxCount) {
      this.#maxCount = source.count;
    }
  }

  #moveDown(source: Source): void {
    this.#unbucket(source);
    source.count--;
    if (source.count > 0) {
      this.#bucket(source);
    }
    if (this.#buckets[this.#maxCount] === undefined) {
      this.#maxCount--; // the source that was alone at the top is now one below it
    }
  }

  #bucket(source: Source): void {
    const first = this.#buckets[source.count];
    source.below = undefined;
    source.above = first;
    if (first !== undefined) {
      first.below = source;
    }
    this.#buckets[source.count] = source;
  }

  #unbucket(source: Source): void {
    if (source.below === undefined) {
      this.#buckets[source.count] = source.above;
    } else {
      source.below.above = source.above;
    }
    if (source.above !== undefined) {
      source.above.below = source.below;
    }
  }
}

class Entry {
  readonly event: HubEvent;
  readonly size: number;
  prev: Entry | undefined = undefined;
  next: Entry | undefined = undefined;
  /** The next ordinary entry of the same source; priority entries have no source. */
  nextInSource: Entry | undefined = undefined;
  source: Source | undefined = undefined;

  constructor(event: HubEvent, size: number) {
    this.event = event;
    this.size = size;
  }
}

/** The ordinary events of one source queued for one listener, oldest first. */
class Source {
  count = 0;
  head: Entry | undefined = undefined;
  tail: Entry | undefined = undefined;
  // Neighbours in the bucket of sources with the same count ("below" is towards its first).
  below: Source | undefined = undefined;
  above: Source | undefined = undefined;
}
