/**
 * A FIFO with a hard capacity, backed by a ring buffer.
 *
 * `push` refuses (returns false) instead of growing past `capacity`: the caller decides
 * what a refusal means (the event hub drops and counts, like Tetragon's listener channel).
 * Storage starts small and doubles up to `capacity`, so ten idle subscribers with the
 * default capacity of 10000 do not pin 100000 slots.
 */
export class BoundedQueue<T> {
  readonly capacity: number;
  #slots: (T | undefined)[];
  #head = 0;
  #size = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`queue capacity must be a positive integer, got ${capacity}`);
    }
    this.capacity = capacity;
    this.#slots = new Array<T | undefined>(Math.min(capacity, 16));
  }

  get size(): number {
    return this.#size;
  }

  /** Appends `item`; returns false, leaving the queue unchanged, when it is full. */
  push(item: T): boolean {
    if (this.#size === this.capacity) {
      return false;
    }
    if (this.#size === this.#slots.length) {
      this.#grow();
    }
    this.#slots[(this.#head + this.#size) % this.#slots.length] = item;
    this.#size++;
    return true;
  }

  /** Removes and returns the oldest item, or undefined when empty. */
  shift(): T | undefined {
    if (this.#size === 0) {
      return undefined;
    }
    const item = this.#slots[this.#head];
    // Clear the slot so a consumed event can be garbage collected while the queue lives on.
    this.#slots[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.#slots.length;
    this.#size--;
    return item;
  }

  /** Drops everything, releasing the storage. */
  clear(): void {
    this.#slots = new Array<T | undefined>(Math.min(this.capacity, 16));
    this.#head = 0;
    this.#size = 0;
  }

  #grow(): void {
    const next = new Array<T | undefined>(Math.min(this.capacity, this.#slots.length * 2));
    for (let i = 0; i < this.#size; i++) {
      next[i] = this.#slots[(this.#head + i) % this.#slots.length];
    }
    this.#slots = next;
    this.#head = 0;
  }
}
