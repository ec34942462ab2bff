import type { GetEventsResponse } from "@nsguard/sdk";
import { ThrottleType } from "@nsguard/sdk";
import { describe, expect, it } from "vitest";
import { type SuppressedSource, THROTTLE_STOP_AFTER_MS, ThrottleMonitor } from "./throttle-monitor.js";

const ID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/** The kernel table as a test drives it: counts only grow, like the kernel's. */
function table() {
  const rows = new Map<string, SuppressedSource>();
  let total = 0n;
  const events: GetEventsResponse[] = [];
  return {
    events,
    suppress(cgroupId: bigint, n: bigint, pid = 0) {
      const key = `${cgroupId}/${pid}`;
      const row = rows.get(key) ?? { cgroupId, pid, cgroupName: ID, suppressed: 0n };
      row.suppressed += n;
      rows.set(key, row);
      if (pid === 0) total += n;
    },
    evict(cgroupId: bigint) {
      rows.delete(`${cgroupId}/0`);
    },
    monitor() {
      return new ThrottleMonitor({
        suppressedTotal: () => total,
        sources: () => [...rows.values()],
        publish: (e) => events.push(e),
        nodeName: "node",
      });
    },
  };
}

function throttles(events: GetEventsResponse[]) {
  return events.map((e) => {
    if (e.event.case !== "processThrottle") throw new Error(`unexpected ${e.event.case}`);
    const t = e.event.value;
    return { type: t.type, cgroupId: t.cgroupId, suppressed: t.suppressedEvents, docker: t.docker };
  });
}

describe("ThrottleMonitor", () => {
  it("reports a suppressed source with START, then STOP with the episode's total once it is quiet", () => {
    const kernel = table();
    const monitor = kernel.monitor();
    kernel.suppress(7n, 100n);
    kernel.suppress(7n, 3n, 4242); // process-level rows do not make their own events
    monitor.tick(0);
    kernel.suppress(7n, 50n);
    monitor.tick(250);
    expect(monitor.throttledSources).toBe(1);
    monitor.tick(250 + THROTTLE_STOP_AFTER_MS);
    expect(monitor.throttledSources).toBe(0);
    expect(throttles(kernel.events)).toEqual([
      { type: ThrottleType.THROTTLE_START, cgroupId: 7n, suppressed: 100n, docker: ID.slice(0, 31) },
      { type: ThrottleType.THROTTLE_STOP, cgroupId: 7n, suppressed: 150n, docker: ID.slice(0, 31) },
    ]);
  });

  it("counts a second episode from where the first ended, and only what was suppressed after start-up", () => {
    const kernel = table();
    kernel.suppress(9n, 1000n); // before the agent (re)started: not this agent's episode
    const monitor = kernel.monitor();
    monitor.tick(0);
    expect(kernel.events).toEqual([]);
    kernel.suppress(9n, 10n);
    monitor.tick(100);
    monitor.tick(100 + THROTTLE_STOP_AFTER_MS);
    kernel.suppress(9n, 5n);
    monitor.tick(5000);
    monitor.close();
    expect(throttles(kernel.events).map((t) => [t.type, t.suppressed])).toEqual([
      [ThrottleType.THROTTLE_START, 10n],
      [ThrottleType.THROTTLE_STOP, 10n],
      [ThrottleType.THROTTLE_START, 5n],
      [ThrottleType.THROTTLE_STOP, 5n],
    ]);
  });

  it("closes an episode whose table entry the kernel evicted", () => {
    const kernel = table();
    const monitor = kernel.monitor();
    kernel.suppress(3n, 8n);
    monitor.tick(0);
    kernel.evict(3n);
    kernel.suppress(4n, 1n); // the total moves, so the table is read again
    monitor.tick(100);
    expect(throttles(kernel.events).map((t) => [t.type, t.cgroupId, t.suppressed])).toEqual([
      [ThrottleType.THROTTLE_START, 3n, 8n],
      [ThrottleType.THROTTLE_START, 4n, 1n],
      [ThrottleType.THROTTLE_STOP, 3n, 8n],
    ]);
  });
});
