import { createServer } from "node:net";
import { create } from "@bufbuild/protobuf";
import {
  GetEventsResponseSchema,
  KprobeAction,
  PodSchema,
  ProcessKprobeSchema,
  ProcessSchema,
  TracingPolicyState,
} from "@nsguard/sdk";
import { describe, expect, it } from "vitest";
import { EventMetrics } from "./event-metrics.js";
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
      rateLimited: 11n,
      procTableFull: 8n,
    }),
    reader: () => ({ records: 93, malformed: 0, droppedEvents: 1, errors: 0 }),
    observer: () => ({ exec: 10, clone: 11, exit: 12, syscall: 60, unknownHook: 0, errors: 0, pauses: 6 }),
    hub: () => ({ published: 82, dropped: overrides.hubDropped ?? 3, evicted: 1, subscribers: 2 }),
    processCache: () => ({ size: 42, capacity: 65536, evictedReferenced: 4, procfsMisses: 9 }),
    eventCache: () => ({ held: 3, resolved: 20, timedOut: 1, overflowed: 0, unknownContainer: 7 }),
    policyStates: () => [TracingPolicyState.TP_STATE_ENABLED, TracingPolicyState.TP_STATE_DISABLED],
    throttledSources: () => 2,
    events: new EventMetrics(),
  };
}

describe("metrics", () => {
  it("exposes every loss counter and the pipeline's state, read at scrape time", async () => {
    const registry = createMetricsRegistry(sources());
    const text = await registry.metrics();
    expect(text).toContain("nsguard_observer_ringbuf_events_lost_total 7");
    expect(text).toContain("nsguard_reader_events_dropped_total 1");
    expect(text).toContain("nsguard_notify_overflowed_events_total 3");
    expect(text).toContain('nsguard_kernel_records_total{type="syscall"} 60');
    expect(text).toContain("nsguard_notify_evicted_events_total 1");
    expect(text).toContain("nsguard_map_errors_update_total 8");
    expect(text).toContain("nsguard_observer_ringbuf_events_received_total 93");
    expect(text).toContain("nsguard_process_cache_capacity 65536");
    expect(text).toContain("nsguard_process_cache_evictions_total 4");
    expect(text).toContain("nsguard_process_cache_misses_total 9");
    expect(text).toContain('nsguard_tracingpolicy_loaded{state="enabled"} 1');
    expect(text).toContain('nsguard_tracingpolicy_loaded{state="disabled"} 1');
    expect(text).toContain('nsguard_tracingpolicy_loaded{state="load_error"} 0');
    expect(text).toContain("nsguard_policy_sigkill_total 2");
    expect(text).toContain("nsguard_policy_rate_limited_total 11");
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
      hub: () => ({ published: 1, dropped, evicted: 0, subscribers: 0 }),
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

  it("counts events by type, pod and binary, and policy events by policy, hook and action", async () => {
    const events = new EventMetrics({ labelFilter: ["namespace", "pod", "binary"] });
    const kprobe = (binary: string, action: KprobeAction) =>
      create(GetEventsResponseSchema, {
        event: {
          case: "processKprobe",
          value: create(ProcessKprobeSchema, {
            functionName: "__x64_sys_setns",
            policyName: "namespace-access",
            action,
            process: create(ProcessSchema, {
              binary,
              pod: create(PodSchema, { namespace: "default", name: "xwing", workload: "xwing" }),
            }),
          }),
        },
      });
    events.record(kprobe("/usr/bin/nsenter", KprobeAction.POST));
    events.record(kprobe("/usr/bin/nsenter", KprobeAction.POST));
    events.record(kprobe("/usr/bin/unshare", KprobeAction.SIGKILL));
    const text = await createMetricsRegistry({ ...sources(), events }).metrics();
    // workload is filtered out by the label filter: present, empty.
    expect(text).toContain(
      'nsguard_events_total{type="PROCESS_KPROBE",namespace="default",workload="",pod="xwing",binary="/usr/bin/nsenter"} 2',
    );
    expect(text).toContain(
      'nsguard_policy_events_total{policy="namespace-access",hook="__x64_sys_setns",namespace="default",workload="",pod="xwing",binary="/usr/bin/unshare"} 1',
    );
    expect(text).toContain(
      'nsguard_policy_actions_total{policy="namespace-access",hook="__x64_sys_setns",action="POST"} 2',
    );
    expect(text).toContain(
      'nsguard_policy_actions_total{policy="namespace-access",hook="__x64_sys_setns",action="SIGKILL"} 1',
    );
  });

  it("names the flag when its port is taken", async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const { port } = taken.address() as { port: number };
    try {
      await expect(startMetricsServer(createMetricsRegistry(sources()), `127.0.0.1:${port}`)).rejects.toThrow(
        `--metrics-server 127.0.0.1:${port}: listen EADDRINUSE`,
      );
    } finally {
      taken.close();
    }
  });
});
