/**
 * Tetragon's export rate limit (pkg/ratelimit, golang.org/x/time/rate): a token bucket holding
 * `perMinute` tokens, refilled continuously at `perMinute` per minute and full at the start.
 * 0 admits nothing. Dropped events are counted until the next report takes the count.
 */
export class ExportRateLimiter {
  private tokens: number;
  private last: number;
  private droppedSinceReport = 0;
  /** Every event dropped so far (tetragon_export_ratelimit_events_dropped_total). */
  dropped = 0;

  constructor(
    private readonly perMinute: number,
    now: number,
  ) {
    this.tokens = perMinute;
    this.last = now;
  }

  /** True when the event may be exported; otherwise it is counted as dropped. */
  allow(now: number): boolean {
    // A clock stepped backwards refills nothing rather than draining the bucket.
    const elapsed = Math.max(0, now - this.last);
    this.last = now;
    this.tokens = Math.min(this.perMinute, this.tokens + (elapsed * this.perMinute) / 60_000);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    this.dropped++;
    this.droppedSinceReport++;
    return false;
  }

  /** The drops since the last call (what one rate_limit_info event reports), resetting it. */
  takeDropped(): number {
    const n = this.droppedSinceReport;
    this.droppedSinceReport = 0;
    return n;
  }
}
