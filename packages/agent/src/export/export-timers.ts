/**
 * The time the export runs on: a wall clock in milliseconds and repeating timers. The rate
 * limiter's bucket and the report and rotation tickers all use it, so tests drive them with a
 * manual clock instead of waiting out minutes.
 */
export interface ExportTimers {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Calls `task` every `ms` until the returned function is called. */
  every(ms: number, task: () => void): () => void;
}

export const realTimers: ExportTimers = {
  now: () => Date.now(),
  every(ms, task) {
    // unref: an export ticker alone must not keep the process alive.
    const timer = setInterval(task, ms).unref();
    return () => clearInterval(timer);
  },
};
