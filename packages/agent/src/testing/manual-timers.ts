import type { ExportTimers } from "../export/export-timers.js";

/** ExportTimers for tests: time moves only when advance() is called, firing due tickers in order. */
export class ManualTimers implements ExportTimers {
  private time: number;
  private readonly tickers = new Set<{ ms: number; next: number; task: () => void }>();

  constructor(start = Date.UTC(2025, 0, 1)) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  every(ms: number, task: () => void): () => void {
    const ticker = { ms, next: this.time + ms, task };
    this.tickers.add(ticker);
    return () => this.tickers.delete(ticker);
  }

  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const due = [...this.tickers].filter((t) => t.next <= end).sort((a, b) => a.next - b.next)[0];
      if (!due) break;
      this.time = due.next;
      due.next += due.ms;
      due.task();
    }
    this.time = end;
  }
}
