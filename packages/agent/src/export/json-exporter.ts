import { once } from "node:events";
import { basename, dirname } from "node:path";
import { toJsonLine } from "@nsguard/sdk";
import type { EventSource } from "@nsguard/server";
import { createStream, type RotatingFileStream } from "rotating-file-stream";

export interface JsonExporterOptions {
  filename: string;
  /** Rotate when the file reaches this size (Tetragon's --export-file-max-size-mb, default 10). */
  maxSizeMb?: number;
  /** Rotated files kept: name.1 … name.N (Tetragon's --export-file-max-backups, default 5). */
  maxBackups?: number;
  /** File mode (Tetragon's --export-file-perm, default 600). */
  mode?: number;
}

/**
 * Tetragon's JSON export: every event as one protojson line, in a size-rotated file. It is just
 * another listener on the event hub with its own bounded queue, so a slow disk drops (and the hub
 * counts) rather than stalling the pipeline — and, as in Tetragon, gRPC filters do not apply.
 */
export class JsonExporter {
  private readonly stream: RotatingFileStream;
  private readonly abort = new AbortController();
  private readonly done: Promise<void>;
  written = 0;

  constructor(source: EventSource, options: JsonExporterOptions) {
    const base = basename(options.filename);
    // With `rotate` (classical logrotate naming) the generator receives only the rotation index.
    const name = (index: number | Date | null) =>
      typeof index === "number" && index > 0 ? `${base}.${index}` : base;
    this.stream = createStream(name, {
      path: dirname(options.filename),
      size: `${Math.max(1, Math.round((options.maxSizeMb ?? 10) * 1024))}K`,
      rotate: options.maxBackups ?? 5,
      mode: options.mode ?? 0o600,
    });
    const events = source.subscribe({ signal: this.abort.signal, label: `json export ${options.filename}` });
    this.done = this.pump(events);
  }

  private async pump(events: AsyncIterable<{ message: Parameters<typeof toJsonLine>[0] }>): Promise<void> {
    for await (const event of events) {
      if (!this.stream.write(`${toJsonLine(event.message)}\n`)) await once(this.stream, "drain");
      this.written++;
    }
  }

  /** Stops listening and flushes the file. */
  async close(): Promise<void> {
    this.abort.abort();
    await this.done.catch(() => undefined);
    this.stream.end();
    await once(this.stream, "finish");
  }
}
