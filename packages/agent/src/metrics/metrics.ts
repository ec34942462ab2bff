import { TracingPolicyState } from "@nsguard/sdk";
import type { Sensor } from "@nsguard/sensor";
import type { EventHubStats } from "@nsguard/server";
import { Counter, Gauge, Registry } from "prom-client";
import type { EventCacheStats } from "../event-cache.js";
import type { ExportStats } from "../export/json-exporter.js";
import type { ObserverStats } from "../observer.js";
import type { ProcessCacheStats } from "../process/process-cache.js";
import type { EventMetrics } from "./event-metrics.js";
import { startHttpEndpoint } from "./http-endpoint.js";

type SensorCounters = ReturnType<Sensor["counters"]>;

/**
 * Where the numbers come from; read at scrape time, so the hot path pays nothing for metrics.
 * The agent wires these to the sensor, the observer, the hub and the process cache.
 */
export interface MetricsSources {
  kernel(): Pick<
    SensorCounters["kernel"],
    | "events"
    | "ringbufFull"
    | "procTableFull"
    | "sigkill"
    | "sigkillErr"
    | "filtered"
    | "throttled"
    | "rateLimited"
  >;
  reader(): Pick<SensorCounters["reader"], "records" | "malformed" | "droppedEvents" | "errors">;
  observer(): ObserverStats;
  hub(): Pick<EventHubStats, "published" | "dropped" | "evicted" | "subscribers">;
  processCache(): Pick<ProcessCacheStats, "size" | "evictedReferenced" | "procfsMisses"> & {
    capacity: number;
  };
  /** Events waiting for their pod metadata; undefined when no pod source runs. */
  eventCache(): EventCacheStats | undefined;
  /** The state of every tracing policy the agent holds. */
  policyStates(): TracingPolicyState[];
  /** Containers whose events the kernel is suppressing now (flood protection). */
  throttledSources(): number;
  /** The per-event counters (by type, pod, binary, policy, hook), counted at publish. */
  events: EventMetrics;
}

/** tetragon_tracingpolicy_loaded's state label values. */
const POLICY_STATE_LABELS: [TracingPolicyState, string][] = [
  [TracingPolicyState.TP_STATE_ENABLED, "enabled"],
  [TracingPolicyState.TP_STATE_DISABLED, "disabled"],
  [TracingPolicyState.TP_STATE_LOAD_ERROR, "load_error"],
  [TracingPolicyState.TP_STATE_ERROR, "error"],
];

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

  const labelled = (name: string, help: string, counts: EventMetrics["events"], labelNames: string[]) =>
    new Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        for (const { labels, count } of counts.entries()) this.inc(labels, count);
      },
    });
  labelled(
    "nsguard_events_total",
    "Events published to listeners, by type and (--metrics-label-filter) namespace, workload, pod, binary; label sets beyond --metrics-max-label-sets are folded into _overflow_ series (Tetragon: tetragon_events_total)",
    sources.events.events,
    ["type", "namespace", "workload", "pod", "binary"],
  );
  labelled(
    "nsguard_policy_events_total",
    "Policy events published, by policy and hook (Tetragon: tetragon_policy_events_total)",
    sources.events.policyEvents,
    ["policy", "hook", "namespace", "workload", "pod", "binary"],
  );
  labelled(
    "nsguard_policy_actions_total",
    "Policy events published, by policy, hook and the action taken (POST, SIGKILL …)",
    sources.events.policyActions,
    ["policy", "hook", "action"],
  );
  counter(
    "nsguard_metrics_label_sets_evicted_total",
    "Label sets folded into an _overflow_ series because --metrics-max-label-sets was reached",
    () =>
      sources.events.events.evicted +
      sources.events.policyEvents.evicted +
      sources.events.policyActions.evicted,
  );
  new Counter({
    name: "nsguard_kernel_records_total",
    help: "Kernel records the agent handled, by kind (clone records update the process cache and are not published)",
    labelNames: ["type"],
    registers: [registry],
    collect() {
      const o = sources.observer();
      this.reset();
      this.inc({ type: "exec" }, o.exec);
      this.inc({ type: "clone" }, o.clone);
      this.inc({ type: "exit" }, o.exit);
      this.inc({ type: "syscall" }, o.syscall);
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
    "nsguard_observer_ringbuf_events_received_total",
    "Records read from the ring buffer (Tetragon: tetragon_observer_ringbuf_events_received_total)",
    () => sources.reader().records,
  );
  counter(
    "nsguard_observer_ringbuf_errors_total",
    "Ring-buffer poll/consume failures (Tetragon: tetragon_observer_ringbuf_errors_total)",
    () => sources.reader().errors,
  );
  counter(
    "nsguard_map_errors_update_total",
    "Kernel process-table updates that failed, the table being full (Tetragon: tetragon_map_errors_update_total{map=execve_map})",
    () => sources.kernel().procTableFull,
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
  counter(
    "nsguard_notify_evicted_events_total",
    "The part of nsguard_notify_overflowed_events_total a full queue evicted to make room for another source's or a priority event (fair sharing)",
    () => sources.hub().evicted,
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
  counter(
    "nsguard_policy_rate_limited_total",
    "Posts a selector's rateLimit suppressed in the kernel (the calls happened; their events were not sent)",
    () => sources.kernel().rateLimited,
  );
  gauge(
    "nsguard_process_cache_size",
    "Processes in the user-space process cache (Tetragon: tetragon_process_cache_size)",
    () => sources.processCache().size,
  );
  gauge(
    "nsguard_process_cache_capacity",
    "Bound on the process cache's entries (Tetragon: tetragon_process_cache_capacity)",
    () => sources.processCache().capacity,
  );
  counter(
    "nsguard_process_cache_evictions_total",
    "Processes still referenced that were dropped because the cache was at capacity (Tetragon: tetragon_process_cache_evictions_total)",
    () => sources.processCache().evictedReferenced,
  );
  counter(
    "nsguard_process_cache_misses_total",
    "Process lookups the cache could not answer, resolved from /proc (Tetragon: tetragon_process_cache_misses_total)",
    () => sources.processCache().procfsMisses,
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
  new Gauge({
    name: "nsguard_tracingpolicy_loaded",
    help: "Tracing policies by state (Tetragon: tetragon_tracingpolicy_loaded)",
    labelNames: ["state"],
    registers: [registry],
    collect() {
      const states = sources.policyStates();
      for (const [state, label] of POLICY_STATE_LABELS) {
        this.set({ state: label }, states.filter((s) => s === state).length);
      }
    },
  });
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
  const endpoint = await startHttpEndpoint("--metrics-server", address, (req, res) => {
    if (req.url !== "/metrics") {
      res.writeHead(404).end("not found: metrics are at /metrics\n");
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { "content-type": registry.contentType }).end(text),
      (err: Error) => res.writeHead(500).end(`${err.message}\n`),
    );
  });
  return { url: `${endpoint.url}/metrics`, close: endpoint.close };
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
