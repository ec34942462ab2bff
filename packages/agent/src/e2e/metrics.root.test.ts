import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EventType } from "@nsguard/sdk";
import { afterAll, beforeAll, describe, expect } from "vitest";
import { SimulatedContainer } from "../sim/simulated-container.js";
import { openRawEventStream } from "./raw-stream.js";
import { isRoot, randomContainerId, rootIt, startExampleAgent, waitFor } from "./root-tier.js";

const repo = new URL("../../../../", import.meta.url).pathname;

/** One sample of a Prometheus text scrape: `name{labels} value`, labels matched as written. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    total += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return total;
}

async function scrape(url: string): Promise<string> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  return res.text();
}

describe.runIf(isRoot || process.env.CI)("metrics under a storm (root tier: BPF + namespaces)", () => {
  let dir: string;
  let paced: string;
  const containers: SimulatedContainer[] = [];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "nsguard-metrics-"));
    paced = join(dir, `setns-metrics-${process.pid}`);
    execFileSync("cc", ["-O2", "-o", paced, join(repo, "bench/setns-paced.c")]);
  });
  afterAll(() => {
    for (const c of containers) c.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  rootIt(
    "after a setns storm, /metrics accounts for every call: published for the binary = received + dropped at the listener, calls = published + suppressed + lost in the ring",
    async () => {
      const agent = await startExampleAgent("namespace-access.yaml", {
        eventQueueSize: 10000,
        metricsServer: "127.0.0.1:0",
      });
      const metricsUrl = agent.metricsUrl as string;
      const client = openRawEventStream(agent.server.addresses.tcp?.url as string, {
        allowList: [{ eventSet: [EventType.PROCESS_KPROBE], binaryRegex: [`${paced.split("/").pop()}$`] }],
      });
      const storm = new SimulatedContainer({ id: randomContainerId() });
      containers.push(storm);
      try {
        await waitFor(() => agent.hub.subscriberCount >= 1, 5000, "the stream");
        const before = await scrape(metricsUrl);
        // 400k calls at 200k/s: more than the pipeline delivers, so the kernel must suppress. (The
        // generator makes every call asked for, however long that takes: a rate the core cannot
        // reach only makes the storm last longer.)
        const result = await storm.run(`exec ${paced} 200000 2`);
        expect(result.exitCode, result.stderr).toBe(0);
        const calls = Number(result.stdout.trim().split(" ")[0]);
        // Quiescent: nothing new at the client for a second (the node's other activity may keep
        // the observer busy, but none of it is the generator's).
        for (let last = -1; client.count() !== last; ) {
          last = client.count();
          await new Promise((r) => setTimeout(r, 1000));
        }
        const after = await scrape(metricsUrl);
        const delta = (name: string, labels?: Record<string, string>) =>
          sample(after, name, labels) - sample(before, name, labels);

        // The agent's side, all from the scrape: every event published for the generator
        // reached the client or was dropped at its queue (the only listener, filtered to it).
        const published = delta("nsguard_events_total", { type: "PROCESS_KPROBE", binary: paced });
        const policyEvents = delta("nsguard_policy_events_total", {
          policy: "namespace-access",
          binary: paced,
        });
        const dropped = delta("nsguard_notify_overflowed_events_total");
        const received = client.count();
        expect(published).toBe(received + dropped);
        expect(policyEvents).toBe(published);

        // The kernel's side: each call was published, suppressed by flood protection, or lost
        // to a full ring. The storm's own share is exact per source; the node-wide counters in
        // the scrape hold it (and whatever else the node did meanwhile).
        const source = agent.sensor.sources().filter((s) => s.pid === 0 && s.cgroupName === storm.id);
        const suppressed = Number(source.reduce((n, s) => n + s.suppressed, 0n));
        const lost = Number(source.reduce((n, s) => n + s.lost, 0n));
        expect(published + suppressed + lost).toBe(calls);
        const suppressedAll = delta("nsguard_flood_suppressed_events_total");
        const lostAll = delta("nsguard_observer_ringbuf_events_lost_total");
        expect(suppressedAll).toBeGreaterThanOrEqual(suppressed);
        expect(lostAll).toBeGreaterThanOrEqual(lost);
        expect(suppressed).toBeGreaterThan(0);
        console.log(
          `storm: calls=${calls} published=${published} received=${received} dropped=${dropped} ` +
            `suppressed=${suppressed} (node ${suppressedAll}) ringLost=${lost} (node ${lostAll}) ` +
            `cacheSize=${sample(after, "nsguard_process_cache_size")}`,
        );
        expect(sample(after, "nsguard_tracingpolicy_loaded", { state: "enabled" })).toBe(1);
      } finally {
        client.close();
        await agent.stop();
      }
    },
    120_000,
  );
});
