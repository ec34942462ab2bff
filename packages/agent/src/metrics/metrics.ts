import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Sensor } from "@nsguard/sensor";
import type { EventHubStats } from "@nsguard/server";
import { Counter, Gauge, Registry } from "prom-client";
import type { EventCacheStats } from "../event-cache.js";
import type { ExportStats } from "../export/json-exporter.js";
import type { ObserverStats } from "../observer.js";

type SensorCounters = ReturnType<Sensor["counters"]>;

/**
 * Where the numbers come from; read at scrape time, so the hot path pays nothing for metrics.
 * The agent wires these to the sensor, the observer, the hub and the process cache.
 */
export interface MetricsSources {
  kernel(): Pick<
    SensorCounters["kernel"],
    "events" | "ringbufFull" | "sigkill" | "sigkillErr" | "filtered" | "throttled"
  >;
  reader(): Pick<SensorCounters["reader"], "malformed" | "droppedEvents">;
  observer(): ObserverStats;
  hub(): Pick<EventHubStats, "published" | "dropped" | "subscribers">;
  processCacheSize(): number;
  /** Events waiting for their pod metadata; undefined when no pod source runs. */
  eventCache(): EventCacheStats | undefined;
  policies(): number;
  /** Containers whose events the kernel is suppressing now (flood protection). */
  throttledSources(): number;
}

/**
 * Prometheus metrics named after Tetragon's where one exists (tetragon-reference §4.4), so the
 * dashboards users have translate: every place an event can be lost has its counter.
 */
export function createMetricsRegistry(sources: MetricsSources): Registry {
  const registry = new Registry();
  const counter = (name: string, help: string, read: () => number | bigint, labelNames: string[] = []) =>
    new Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(Number(read()));
      },
    });
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });

  new Counter({
    name: "nsguard_events_total",
    help: "Kernel records handled by the agent, by type",
    labelNames: ["type"],
    registers: [registry],
    collect() {
      const o = sources.observer();
      this.reset();
      this.inc({ type: "PROCESS_EXEC" }, o.exec);
      this.inc({ type: "PROCESS_CLONE" }, o.clone);
      this.inc({ type: "PROCESS_EXIT" }, o.exit);
      this.inc({ type: "PROCESS_KPROBE" }, o.syscall);
    },
  });
  counter(
    "nsguard_bpf_events_total",
    "Records the BPF programs queued on the ring buffer",
    () => sources.kernel().events,
  );
  counter(
    "nsguard_observer_ringbuf_events_lost_total",
    "Records lost because the ring buffer was full (Tetragon: tetragon_observer_ringbuf_events_lost_total)",
    () => sources.kernel().ringbufFull,
  );
  counter(
    "nsguard_flood_suppressed_events_total",
    "Ordinary events the kernel suppressed from the heaviest sources while the pipeline was saturated (fair sharing; enforcement events are never suppressed)",
    () => sources.kernel().throttled,
  );
  gauge("nsguard_flood_throttled_sources", "Containers whose events are being suppressed now", () =>
    sources.throttledSources(),
  );
  counter(
    "nsguard_observer_pauses_total",
    "Times the agent stopped reading the kernel because every listener was behind",
    () => sources.observer().pauses,
  );
  counter(
    "nsguard_reader_events_dropped_total",
    "Records read from the ring buffer but not handed to the agent (reader stopping)",
    () => sources.reader().droppedEvents,
  );
  counter(
    "nsguard_reader_malformed_records_total",
    "Ring-buffer records that failed validation",
    () => sources.reader().malformed,
  );
  counter(
    "nsguard_notify_overflowed_events_total",
    "Events dropped because a listener's queue was full (Tetragon: tetragon_notify_overflowed_events_total)",
    () => sources.hub().dropped,
  );
  counter("nsguard_events_published_total", "Events published to listeners", () => sources.hub().published);
  counter(
    "nsguard_event_build_errors_total",
    "Kernel records that could not be turned into events (each also logged)",
    () => sources.observer().errors + sources.observer().unknownHook,
  );
  counter(
    "nsguard_policy_sigkill_total",
    "Processes killed by a Sigkill action",
    () => sources.kernel().sigkill,
  );
  counter(
    "nsguard_policy_sigkill_errors_total",
    "Sigkill actions the kernel refused",
    () => sources.kernel().sigkillErr,
  );
  counter(
    "nsguard_policy_filtered_calls_total",
    "Hooked calls no selector matched (dropped in the kernel)",
    () => sources.kernel().filtered,
  );
  gauge("nsguard_process_cache_size", "Processes in the user-space process cache", () =>
    sources.processCacheSize(),
  );
  gauge(
    "nsguard_event_cache_entries",
    "Events waiting for their pod metadata",
    () => sources.eventCache()?.held ?? 0,
  );
  new Counter({
    name: "nsguard_event_cache_events_total",
    help: "Events of containers whose pod was not known, by outcome: resolved (waited and got it); timeout, overflow (cache or the container's share full), unknown_container (not found shortly before): sent without it",
    labelNames: ["outcome"],
    registers: [registry],
    collect() {
      const stats = sources.eventCache();
      this.reset();
      this.inc({ outcome: "resolved" }, stats?.resolved ?? 0);
      this.inc({ outcome: "timeout" }, stats?.timedOut ?? 0);
      this.inc({ outcome: "overflow" }, stats?.overflowed ?? 0);
      this.inc({ outcome: "unknown_container" }, stats?.unknownContainer ?? 0);
    },
  });
  gauge("nsguard_tracingpolicy_loaded", "Tracing policies loaded", () => sources.policies());
  gauge(
    "nsguard_event_listeners",
    "GetEvents streams and exporters listening",
    () => sources.hub().subscribers,
  );
  return registry;
}

/** Serves `/metrics` (Tetragon's --metrics-server, e.g. ":2112" or "127.0.0.1:0"). */
export async function startMetricsServer(
  registry: Registry,
  address: string,
): Promise<{ url: string; close(): Promise<void> }> {
  const match = /^(.*):(\d+)$/.exec(address);
  if (!match) throw new Error(`--metrics-server: expected host:port or :port, got "${address}"`);
  const host = match[1] === "" ? "0.0.0.0" : (match[1] as string).replace(/^\[(.*)\]$/, "$1");
  const server: Server = createServer((req, res) => {
    if (req.url !== "/metrics") {
      res.writeHead(404).end("not found: metrics are at /metrics\n");
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { "content-type": registry.contentType }).end(text),
      (err: Error) => res.writeHead(500).end(`${err.message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(Number(match[2]), host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}/metrics`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * The JSON export's counters (Tetragon's pkg/exporter metrics), registered by the agent when an
 * export runs; `read` gives undefined while there is none.
 */
export function registerExportMetrics(registry: Registry, read: () => ExportStats | undefined): void {
  const counter = (name: string, help: string, value: (s: ExportStats) => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        const stats = read();
        this.reset();
        if (stats) this.inc(value(stats));
      },
    });
  counter(
    "nsguard_events_exported_total",
    "Events written to the JSON export (Tetragon: tetragon_events_exported_total)",
    (s) => s.written,
  );
  counter(
    "nsguard_events_exported_bytes_total",
    "Bytes written to the JSON export (Tetragon: tetragon_events_exported_bytes_total)",
    (s) => s.bytes,
  );
  counter(
    "nsguard_export_ratelimit_events_dropped_total",
    "Events dropped by --export-rate-limit (Tetragon: tetragon_export_ratelimit_events_dropped_total)",
    (s) => s.rateLimitDropped,
  );
  counter(
    "nsguard_export_filtered_events_total",
    "Events --export-allowlist/--export-denylist kept out of the JSON export",
    (s) => s.filtered,
  );
  counter(
    "nsguard_events_export_failed_total",
    "Lines lost to JSON export write errors (Tetragon: tetragon_events_export_failed_total)",
    (s) => s.errors,
  );
}
