import { FilterCostError } from "./filter-error.js";

/**
 * Evaluation time one governed filter (one GetEvents request's allow/deny lists) may use per
 * window, and all governed filters of the process together. Filters run on the hub's publish
 * path, once per event per listener, and a single evaluation is bounded (RE2 is linear, CEL has
 * an iteration budget) but not tiny: a flood times a millisecond would still hold the event
 * loop. Past its share a filter's events are not evaluated (FilterCostError, not delivered to
 * that listener) until the window ends, so other listeners, the RPCs and the pipeline keep at
 * least 1 - FILTER_TOTAL_BUDGET_MS / FILTER_WINDOW_MS of the loop.
 */
export const FILTER_WINDOW_MS = 1000;
export const FILTER_TIME_BUDGET_MS = 50;
export const FILTER_TOTAL_BUDGET_MS = 250;

// A fixed-window time account.
class TimeBudget {
  #windowStart = Number.NEGATIVE_INFINITY;
  #spent = 0;
  constructor(readonly limitMs: number) {}
  exhausted(now: number): boolean {
    if (now - this.#windowStart >= FILTER_WINDOW_MS) {
      this.#windowStart = now;
      this.#spent = 0;
    }
    return this.#spent >= this.limitMs;
  }
  charge(ms: number): void {
    this.#spent += ms;
  }
}

const total = new TimeBudget(FILTER_TOTAL_BUDGET_MS);

/** `test` metered against its own and the process-wide budget; over budget it throws FilterCostError. */
export function governed<T>(test: (value: T) => boolean): (value: T) => boolean {
  const own = new TimeBudget(FILTER_TIME_BUDGET_MS);
  return (value) => {
    const start = performance.now();
    if (own.exhausted(start) || total.exhausted(start)) {
      throw new FilterCostError(
        `the filter used its ${FILTER_TIME_BUDGET_MS} ms per ${FILTER_WINDOW_MS} ms of evaluation time`,
      );
    }
    try {
      return test(value);
    } finally {
      const spent = performance.now() - start;
      own.charge(spent);
      total.charge(spent);
    }
  };
}
