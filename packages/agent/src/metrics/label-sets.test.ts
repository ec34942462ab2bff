import { describe, expect, it } from "vitest";
import { EventMetrics } from "./event-metrics.js";
import { LabelSetCounter, OVERFLOW_LABEL_VALUE } from "./label-sets.js";

const counter = (maxSets: number) =>
  new LabelSetCounter({ labelNames: ["type", "binary"], keptInOverflow: ["type"], maxSets });

const total = (c: LabelSetCounter) => [...c.entries()].reduce((n, e) => n + e.count, 0);

describe("LabelSetCounter", () => {
  it("counts by label set", () => {
    const c = counter(10);
    c.inc(["EXEC", "/bin/a"]);
    c.inc(["EXEC", "/bin/a"], 2);
    c.inc(["EXIT", "/bin/a"]);
    expect([...c.entries()]).toEqual([
      { labels: { type: "EXEC", binary: "/bin/a" }, count: 3 },
      { labels: { type: "EXIT", binary: "/bin/a" }, count: 1 },
    ]);
  });

  it("folds the least recently counted set into its type's overflow series, keeping the totals exact", () => {
    const c = counter(2);
    c.inc(["EXEC", "/bin/a"], 5);
    c.inc(["EXEC", "/bin/b"], 1);
    c.inc(["EXEC", "/bin/a"]); // a is now the most recent: b goes first
    c.inc(["EXIT", "/bin/c"], 2);
    expect(c.evicted).toBe(1);
    expect([...c.entries()]).toEqual([
      { labels: { type: "EXEC", binary: "/bin/a" }, count: 6 },
      { labels: { type: "EXIT", binary: "/bin/c" }, count: 2 },
      { labels: { type: "EXEC", binary: OVERFLOW_LABEL_VALUE }, count: 1 },
    ]);
    expect(total(c)).toBe(9);
  });

  it("stays bounded under a flood of distinct binaries, the sum by type monotonic and exact", () => {
    const c = counter(100);
    let previous = 0;
    for (let i = 0; i < 200_000; i++) {
      c.inc([i % 2 ? "EXEC" : "EXIT", `/tmp/flood-${i}`]);
      if (i % 10_000 === 0) {
        const now = total(c);
        expect(now).toBeGreaterThan(previous);
        previous = now;
      }
    }
    expect(c.size).toBe(100);
    const series = [...c.entries()];
    // 100 held sets + one overflow series per type.
    expect(series).toHaveLength(102);
    expect(total(c)).toBe(200_000);
    const exec = series.filter((e) => e.labels.type === "EXEC").reduce((n, e) => n + e.count, 0);
    expect(exec).toBe(100_000);
    expect(c.evicted).toBe(200_000 - 100);
  });

  it("rejects a bad bound and an unknown kept label", () => {
    expect(() => counter(0)).toThrow(RangeError);
    expect(
      () => new LabelSetCounter({ labelNames: ["type"], keptInOverflow: ["policy"], maxSets: 1 }),
    ).toThrow("kept label policy is not one of type");
  });
});

describe("EventMetrics memory under a binary flood", () => {
  it("holds at most maxLabelSets series per metric, however many binaries pass", async () => {
    const { create } = await import("@bufbuild/protobuf");
    const { GetEventsResponseSchema, ProcessSchema, ProcessExecSchema } = await import("@nsguard/sdk");
    const metrics = new EventMetrics({ maxLabelSets: 64 });
    const heapBefore = process.memoryUsage().heapUsed;
    for (let i = 0; i < 100_000; i++) {
      metrics.record(
        create(GetEventsResponseSchema, {
          event: {
            case: "processExec",
            value: create(ProcessExecSchema, {
              process: create(ProcessSchema, { binary: `/tmp/${i}-${"x".repeat(64)}` }),
            }),
          },
        }),
      );
    }
    expect(metrics.events.size).toBe(64);
    expect([...metrics.events.entries()]).toHaveLength(65);
    globalThis.gc?.();
    // 100k distinct 80-byte binaries held would be > 10 MB; the bound keeps a few KB of series.
    // (Only a sanity bound: heap numbers are noisy, the series count above is the real check.)
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(50 * 1024 * 1024);
  });
});
