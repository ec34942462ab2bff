/**
 * The value the overflow bucket carries in every label that is not kept: no Kubernetes name
 * (RFC 1123: lower-case alphanumerics, '-' and '.') and no absolute binary path can equal it, so
 * it never merges with a real series.
 */
export const OVERFLOW_LABEL_VALUE = "_overflow_";

export interface LabelSetCounterOptions {
  /** The label names, in the order `inc` receives their values. */
  labelNames: readonly string[];
  /**
   * Labels the overflow bucket keeps (e.g. `type`): they must take few values (an enum, the
   * loaded policies), because each of their combinations is one overflow series.
   */
  keptInOverflow: readonly string[];
  /** Most distinct label sets held; the least recently counted one beyond it is folded. */
  maxSets: number;
}

export interface LabelSetCount {
  labels: Record<string, string>;
  count: number;
}

/**
 * A counter by label set whose memory is bounded whatever the label values are: a flood of
 * distinct binaries or pods must not grow the agent (Prometheus' cardinality problem, which
 * Tetragon's --metrics-label-filter only narrows).
 *
 * Label sets are held in LRU order up to `maxSets`. When a new set would exceed it, the least
 * recently counted set is removed and its count added to the overflow bucket of its kept labels,
 * whose other labels read {@link OVERFLOW_LABEL_VALUE}. So the sum over all series, and the sum
 * by kept labels, stay exact and monotonic (a scrape never sees a total go down); only the
 * attribution of evicted sets to their binary or pod is lost. An evicted set that comes back
 * starts again at its new count, which Prometheus reads as a new series.
 */
export class LabelSetCounter {
  readonly #labelNames: readonly string[];
  readonly #kept: readonly number[];
  readonly #maxSets: number;
  /** key → values and count; Map insertion order is the LRU order (oldest first). */
  readonly #sets = new Map<string, { values: readonly string[]; count: number }>();
  readonly #overflow = new Map<string, { values: readonly string[]; count: number }>();
  #evicted = 0;

  constructor(options: LabelSetCounterOptions) {
    if (!Number.isInteger(options.maxSets) || options.maxSets < 1) {
      throw new RangeError(`maxSets must be a positive integer, got ${options.maxSets}`);
    }
    this.#labelNames = options.labelNames;
    this.#kept = options.keptInOverflow.map((name) => {
      const i = options.labelNames.indexOf(name);
      if (i < 0) throw new RangeError(`kept label ${name} is not one of ${options.labelNames.join(",")}`);
      return i;
    });
    this.#maxSets = options.maxSets;
  }

  inc(values: readonly string[], n = 1): void {
    // \0 cannot occur in the label values (C strings from the kernel, Kubernetes names).
    const key = values.join("\0");
    const entry = this.#sets.get(key);
    if (entry) {
      entry.count += n;
      // Most recently counted last.
      this.#sets.delete(key);
      this.#sets.set(key, entry);
      return;
    }
    this.#sets.set(key, { values: [...values], count: n });
    if (this.#sets.size > this.#maxSets) this.#evictOldest();
  }

  /** Label sets held now (at most maxSets), excluding overflow buckets. */
  get size(): number {
    return this.#sets.size;
  }

  /** Label sets folded into an overflow bucket so far. */
  get evicted(): number {
    return this.#evicted;
  }

  /** Every series: the held label sets, then the overflow buckets. */
  *entries(): Iterable<LabelSetCount> {
    for (const { values, count } of this.#sets.values()) yield { labels: this.#labels(values), count };
    for (const { values, count } of this.#overflow.values()) yield { labels: this.#labels(values), count };
  }

  #evictOldest(): void {
    const [oldestKey, oldest] = this.#sets.entries().next().value as [
      string,
      { values: readonly string[]; count: number },
    ];
    this.#sets.delete(oldestKey);
    this.#evicted++;
    const values = this.#labelNames.map((_, i) =>
      this.#kept.includes(i) ? (oldest.values[i] as string) : OVERFLOW_LABEL_VALUE,
    );
    const key = values.join("\0");
    const bucket = this.#overflow.get(key);
    if (bucket) bucket.count += oldest.count;
    else this.#overflow.set(key, { values, count: oldest.count });
  }

  #labels(values: readonly string[]): Record<string, string> {
    const labels: Record<string, string> = {};
    this.#labelNames.forEach((name, i) => {
      labels[name] = values[i] as string;
    });
    return labels;
  }
}
