import { once } from "node:events";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { type GetEventsResponse, GetEventsResponseSchema, toJsonLine } from "@nsguard/sdk";
import type { EventSource, HubEvent } from "@nsguard/server";
import { compileExportFilters, type ExportFilterFlags } from "./export-filters.js";
import { type ExportTimers, realTimers } from "./export-timers.js";
import { ExportRateLimiter } from "./rate-limiter.js";
import { RotatingFile } from "./rotating-file.js";

/** `--export-filename -`: the events go to standard output (logs go to stderr). */
export const EXPORT_STDOUT = "-";

/** Tetragon's rate-limit report period (cmd/tetragon: ratelimit.NewRateLimiter(ctx, 1*time.Minute, …)). */
const RATE_LIMIT_REPORT_MS = 60_000;
/** lumberjack's size when MaxSize is 0. */
const LUMBERJACK_DEFAULT_MAX_SIZE_MB = 100;
/**
 * Encoded lines held while a write is in flight before the export stops taking events off its
 * queue; beyond that the hub queue fills and the hub drops and counts, as for a slow gRPC client.
 */
const MAX_PENDING_BYTES = 4 * 1024 * 1024;

export interface JsonExporterOptions {
  /** Export file, or "-" for standard output (container log collection; no rotation there). */
  filename: string;
  /** --export-file-max-size-mb (default 10; 0 means lumberjack's 100). */
  maxSizeMb?: number | undefined;
  /** --export-file-rotation-interval: also rotate this often, in ms (default 0: size only). */
  rotationIntervalMs?: number | undefined;
  /** --export-file-max-backups: rotated files kept (default 5; 0 keeps all). */
  maxBackups?: number | undefined;
  /** --export-file-compress: gzip rotated files (default false). */
  compress?: boolean | undefined;
  /** --export-file-perm (default 0o600). */
  mode?: number | undefined;
  /** --export-rate-limit: events per minute; -1 (the default) is unlimited, 0 exports nothing. */
  rateLimit?: number | undefined;
  /** --export-allowlist, --export-denylist, --field-filters. */
  filters?: ExportFilterFlags | undefined;
  /** node_name of the rate_limit_info events. */
  nodeName: string;
  timers?: ExportTimers | undefined;
  /**
   * Worth a warning: a write or compression failed, or a torn last line left by a crash was cut
   * off. The export carries on (Tetragon logs and goes on too).
   */
  onError?: ((err: Error) => void) | undefined;
}

/** What the export did, for metrics (Tetragon's tetragon_events_exported_total and friends). */
export interface ExportStats {
  /** Event lines written. */
  written: number;
  /** Bytes written, rate_limit_info lines included. */
  bytes: number;
  /** Events dropped by --export-rate-limit. */
  rateLimitDropped: number;
  /** rate_limit_info lines written. */
  rateLimitReports: number;
  /** Events the allow/deny lists kept out of the export. */
  filtered: number;
  /** Lines lost to write errors. */
  errors: number;
}

interface LineSink {
  write(lines: readonly string[]): Promise<number>;
  rotate(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Tetragon's JSON export: every event as one protojson line (the shape of `tetra getevents -o
 * json`), to a rotated file or stdout. It is just another listener on the event hub with its
 * own bounded queue and its own filters, so a slow disk drops (and the hub counts) rather than
 * stalling the pipeline, and nothing here changes what gRPC clients receive.
 *
 * Per event, in Tetragon's order: allow/deny lists (in the hub, before queueing), rate limit,
 * field filters, then the line. Every minute with drops, a rate_limit_info line reports how many.
 */
export class JsonExporter {
  private written = 0;
  private bytes = 0;
  private rateLimitReports = 0;
  private errors = 0;
  private readonly abort = new AbortController();
  private readonly stopTimers: (() => void)[] = [];
  private pending: string[] = [];
  private pendingEvents = 0;
  private pendingBytes = 0;
  private flushing: Promise<void> | undefined;
  private done: Promise<void> = Promise.resolve();
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly options: JsonExporterOptions,
    private readonly sink: LineSink,
    private readonly timers: ExportTimers,
    private readonly limiter: ExportRateLimiter | undefined,
    private readonly filterCounts: { filtered: number },
  ) {}

  stats(): ExportStats {
    return {
      written: this.written,
      bytes: this.bytes,
      rateLimitDropped: this.limiter?.dropped ?? 0,
      rateLimitReports: this.rateLimitReports,
      filtered: this.filterCounts.filtered,
      errors: this.errors,
    };
  }

  /**
   * Compiles the filters (an ExportFilterError when one is bad, before anything else), starts
   * listening, then opens the target (an ExportFileError when it cannot be used); events
   * published meanwhile wait in the export's queue.
   */
  static async start(source: EventSource, options: JsonExporterOptions): Promise<JsonExporter> {
    const { filter, shape } = compileExportFilters(options.filters ?? {});
    const timers = options.timers ?? realTimers;
    const rateLimit = options.rateLimit ?? -1;
    const limiter = rateLimit >= 0 ? new ExportRateLimiter(rateLimit, timers.now()) : undefined;
    const abort = new AbortController();
    // The filter runs in the hub, before the exporter exists; it counts into this.
    const filterCounts = { filtered: 0 };
    const events = source.subscribe({
      filter:
        filter &&
        ((event) => {
          const pass = filter(event);
          if (!pass) filterCounts.filtered++;
          return pass;
        }),
      signal: abort.signal,
      label: `json export ${options.filename}`,
    });
    let sink: LineSink;
    try {
      sink = options.filename === EXPORT_STDOUT ? new StdoutSink() : await openFileSink(options);
    } catch (err) {
      abort.abort();
      throw err;
    }
    const exporter = new JsonExporter(options, sink, timers, limiter, filterCounts);
    exporter.abort.signal.addEventListener("abort", () => abort.abort());
    if (limiter) exporter.stopTimers.push(timers.every(RATE_LIMIT_REPORT_MS, () => exporter.reportDrops()));
    const interval = options.rotationIntervalMs ?? 0;
    if (interval > 0 && options.filename !== EXPORT_STDOUT) {
      exporter.stopTimers.push(
        timers.every(interval, () => {
          sink.rotate().catch((err: Error) => options.onError?.(err));
        }),
      );
    }
    exporter.done = exporter.pump(events, shape);
    return exporter;
  }

  /** Resolves once every line taken so far is written (or has failed and been counted). */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  /** Stops listening, writes what is pending and closes the target; idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.abort.abort();
      for (const stop of this.stopTimers.splice(0)) stop();
      await this.done.catch(() => undefined);
      await this.flush();
      await this.sink.close();
    })();
    return this.closing;
  }

  private async pump(
    events: AsyncIterable<HubEvent>,
    shape: ((event: GetEventsResponse) => GetEventsResponse) | undefined,
  ): Promise<void> {
    for await (const event of events) {
      if (this.limiter && !this.limiter.allow(this.timers.now())) continue;
      const message = shape ? shape(event.message) : event.message;
      const full = this.enqueue(`${toJsonLine(message)}\n`, true);
      if (full) await full;
    }
  }

  /** Tetragon's reportRateLimitInfo: written straight to the target, past filters and limit. */
  private reportDrops(): void {
    const dropped = this.limiter?.takeDropped() ?? 0;
    if (dropped === 0) return;
    const info = create(GetEventsResponseSchema, {
      event: { case: "rateLimitInfo", value: { numberOfDroppedProcessEvents: BigInt(dropped) } },
      nodeName: this.options.nodeName,
      time: timestampFromMs(this.timers.now()),
    });
    this.enqueue(`${toJsonLine(info)}\n`, false);
    this.rateLimitReports++;
  }

  /** Queues a line; returns the flush to wait for when too much is pending. */
  private enqueue(line: string, isEvent: boolean): Promise<void> | undefined {
    this.pending.push(line);
    this.pendingBytes += line.length;
    if (isEvent) this.pendingEvents++;
    this.flushing ??= this.flushLoop();
    return this.pendingBytes > MAX_PENDING_BYTES ? this.flushing : undefined;
  }

  // One write per batch of whatever accumulated during the previous write: whole lines only.
  private async flushLoop(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending;
      const events = this.pendingEvents;
      this.pending = [];
      this.pendingEvents = 0;
      this.pendingBytes = 0;
      try {
        this.bytes += await this.sink.write(batch);
        this.written += events;
      } catch (err) {
        this.errors += batch.length;
        this.options.onError?.(err as Error);
      }
    }
    this.flushing = undefined;
  }
}

async function openFileSink(options: JsonExporterOptions): Promise<LineSink> {
  const maxSizeMb = options.maxSizeMb || LUMBERJACK_DEFAULT_MAX_SIZE_MB;
  const file = await RotatingFile.open({
    filename: options.filename,
    maxSizeBytes: Math.max(1, Math.round(maxSizeMb * 1024 * 1024)),
    maxBackups: options.maxBackups ?? 5,
    compress: options.compress ?? false,
    mode: options.mode ?? 0o600,
    onError: options.onError,
  });
  if (file.repairedBytes > 0) {
    options.onError?.(
      new Error(
        `cut a torn last line (${file.repairedBytes} bytes) off ${options.filename}: the previous run was killed mid-write`,
      ),
    );
  }
  return file;
}

/**
 * Standard output, for container log collection (Tetragon's Helm chart gets there with an
 * `export-stdout` sidecar tailing the file; a single process can write it directly). The agent
 * logs to stderr, so nothing else shares this stream.
 */
class StdoutSink implements LineSink {
  private failure: Error | undefined;

  constructor() {
    // A reader that went away (EPIPE) must cost the export, not crash the agent.
    process.stdout.on("error", (err) => {
      this.failure = err;
    });
  }

  async write(lines: readonly string[]): Promise<number> {
    if (this.failure) throw this.failure;
    const chunk = lines.join("");
    if (!process.stdout.write(chunk)) await once(process.stdout, "drain");
    return Buffer.byteLength(chunk);
  }

  async rotate(): Promise<void> {}

  async close(): Promise<void> {
    if (process.stdout.writableNeedDrain) await once(process.stdout, "drain");
  }
}
