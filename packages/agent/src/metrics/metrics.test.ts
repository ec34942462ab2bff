import { describe, expect, it } from "vitest";
import { createMetricsRegistry, type MetricsSources, startMetricsServer } from "./metrics.js";

function sources(overrides: Partial<Record<string, number>> = {}): MetricsSources {
  return {
    kernel: () => ({
      events: 100n,
      ringbufFull: BigInt(overrides.ringbufFull ?? 7),
      sigkill: 2n,
      sigkillErr: 0n,
      filtered: 5n,
      throttled: 4000n,
    }),
    reader: () => ({ records: 93, malformed: 0, droppedEvents: 1 }),
    observer: () => ({ exec: 10, clone: 11, exit: 12, syscall: 60, unknownHook: 0, errors: 0, pauses: 6 }),
    hub: () => ({ published: 82, dropped: overrides.hubDropped ?? 3, subscribers: 2 }),
    processCacheSize: () => 42,
    eventCache: () => ({ held: 3, resolved: 20, timedOut: 1, overflowed: 0, unknownContainer: 7 }),
    policies: () => 1,
    throttledSources: () => 2,
  };
}

describe("metrics", () => {
  it("exposes every loss counter and the pipeline's state, read at scrape time", async () => {
    const registry = createMetricsRegistry(sources());
    const text = await registry.metrics();
    expect(text).toContain("nsguard_observer_ringbuf_events_lost_total 7");
    expect(text).toContain("nsguard_reader_events_dropped_total 1");
    expect(text).toContain("nsguard_notify_overflowed_events_total 3");
    expect(text).toContain('nsguard_events_total{type="PROCESS_KPROBE"} 60');
    expect(text).toContain("nsguard_policy_sigkill_total 2");
    expect(text).toContain("nsguard_process_cache_size 42");
    expect(text).toContain("nsguard_event_listeners 2");
    expect(text).toContain("nsguard_flood_suppressed_events_total 4000");
    expect(text).toContain("nsguard_flood_throttled_sources 2");
    expect(text).toContain("nsguard_observer_pauses_total 6");
    expect(text).toContain("nsguard_event_cache_entries 3");
    expect(text).toContain('nsguard_event_cache_events_total{outcome="resolved"} 20');
    expect(text).toContain('nsguard_event_cache_events_total{outcome="timeout"} 1');
    expect(text).toContain('nsguard_event_cache_events_total{outcome="unknown_container"} 7');
  });

  it("serves /metrics over HTTP and answers 404 elsewhere", async () => {
    let dropped = 3;
    const registry = createMetricsRegistry({
      ...sources(),
      hub: () => ({ published: 1, dropped, subscribers: 0 }),
    });
    const server = await startMetricsServer(registry, "127.0.0.1:0");
    try {
      const first = await (await fetch(server.url)).text();
      expect(first).toContain("nsguard_notify_overflowed_events_total 3");
      dropped = 9; // counters follow their source between scrapes
      expect(await (await fetch(server.url)).text()).toContain("nsguard_notify_overflowed_events_total 9");
      expect((await fetch(server.url.replace("/metrics", "/"))).status).toBe(404);
    } finally {
      await server.close();
    }
  });

  it("rejects a malformed address with a clear error", async () => {
    await expect(startMetricsServer(createMetricsRegistry(sources()), "2112")).rejects.toThrow(
      '--metrics-server: expected host:port or :port, got "2112"',
    );
  });
});
