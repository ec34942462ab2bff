import { execFile, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  createNsguardClient,
  EventType,
  type GetEventsResponse,
  KprobeAction,
  ThrottleType,
} from "@nsguard/sdk";
import { afterAll, beforeAll, describe, expect } from "vitest";
import type { RunningAgent } from "../agent.js";
import { SimulatedContainer, startHostAnchor } from "../sim/simulated-container.js";
import { openRawEventStream } from "./raw-stream.js";
import {
  EXAMPLES,
  isRoot,
  kprobeOf,
  randomContainerId,
  rootIt,
  startExampleAgent,
  waitFor,
} from "./root-tier.js";

// The load scenarios of the pipeline issue, with default flags (Tetragon's queue size of 10000
// per listener, flood protection on): a flood from one container must not hide another
// container's escape, cost live clients events, or make the books not add up.
const repo = new URL("../../../../", import.meta.url).pathname;
const buf = join(repo, "node_modules/.bin/buf");
const DEFAULT_QUEUE = 10000;
const FLOOD_RATE = 200_000;

describe.runIf(isRoot || process.env.CI)("flood resistance (root tier: BPF + namespaces)", () => {
  let dir: string;
  let paced: string;
  let anchor: ReturnType<typeof startHostAnchor>;
  const containers: SimulatedContainer[] = [];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "nsguard-flood-"));
    // The bench's paced generator: RATE setns calls/s for SECONDS, prints the exact calls made.
    // A name of its own, so the clients' binary filter never counts another run's calls.
    paced = join(dir, `setns-paced-${process.pid}`);
    execFileSync("cc", ["-O2", "-o", paced, join(repo, "bench/setns-paced.c")]);
    anchor = startHostAnchor();
  });
  afterAll(() => {
    anchor?.stop();
    for (const c of containers) c.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  function container(): SimulatedContainer {
    const c = new SimulatedContainer({ id: randomContainerId() });
    containers.push(c);
    return c;
  }

  /** A container whose init is the paced generator; resolves with the calls it made. */
  async function flood(c: SimulatedContainer, seconds: number, rate = FLOOD_RATE): Promise<number> {
    const result = await c.run(`exec ${paced} ${rate} ${seconds}`);
    expect(result.exitCode, result.stderr).toBe(0);
    return Number(result.stdout.trim().split(" ")[0]);
  }

  /** `nsenter` into the host anchor's namespaces from a container; resolves with nsenter's host pid. */
  async function escapeFrom(
    c: SimulatedContainer,
    kinds = "-m -u -n -i",
  ): Promise<{ pid: number; out: string }> {
    // The shell nsenter runs names its parent (nsenter) by host pid: /proc is the host's.
    const result = await c.run(
      `bash -c 'nsenter -t ${anchor.pid} ${kinds} sh -c "echo nsenter_pid=\\$(cut -d\\" \\" -f4 /proc/self/stat); echo ENTERED"; echo rc=$?'`,
    );
    const pid = Number(/nsenter_pid=(\d+)/.exec(result.stdout)?.[1] ?? 0);
    return { pid, out: result.stdout };
  }

  /** Every event of the given types, decoded, through the SDK's gRPC client. */
  async function sdkCollect(
    agent: RunningAgent,
    allowList: Parameters<ReturnType<typeof createNsguardClient>["getEvents"]>[0]["allowList"],
    signal: AbortSignal,
  ): Promise<GetEventsResponse[]> {
    const events: GetEventsResponse[] = [];
    const url = agent.server.addresses.tcp?.url as string;
    const before = agent.hub.subscriberCount;
    (async () => {
      for await (const ev of createNsguardClient(url).getEvents({ allowList }, { signal })) events.push(ev);
    })().catch(() => undefined);
    await waitFor(() => agent.hub.subscriberCount > before, 5000, "the GetEvents stream to register");
    return events;
  }

  const throttlesOf = (events: GetEventsResponse[], docker: string) =>
    events.flatMap((e) =>
      e.event.case === "processThrottle" && e.event.value.docker === docker ? [e.event.value] : [],
    );

  rootIt(
    "an escape during another container's 200k/s setns flood reaches a fast client and buf curl, and the flood is reported as throttled",
    async () => {
      const agent = await startExampleAgent("namespace-access.yaml", { eventQueueSize: DEFAULT_QUEUE });
      const stop = new AbortController();
      const url = agent.server.addresses.tcp?.url as string;
      // A slow client: buf curl printing every event as JSON, no filter.
      const curl = spawn(
        buf,
        [
          "curl",
          "--protocol",
          "grpc",
          "--http2-prior-knowledge",
          "--schema",
          join(repo, "proto"),
          `${url}/tetragon.FineGuidanceSensors/GetEvents`,
          "-d",
          "{}",
        ],
        { stdio: ["ignore", "pipe", "ignore"], detached: true },
      );
      let curlOut = "";
      curl.stdout.on("data", (d: Buffer) => {
        curlOut += d.toString();
      });
      try {
        const before = agent.hub.subscriberCount;
        await waitFor(() => agent.hub.subscriberCount > before, 15_000, "buf curl's stream to register");
        const events = await sdkCollect(
          agent,
          [
            { eventSet: [EventType.PROCESS_KPROBE], binaryRegex: ["nsenter$"] },
            { eventSet: [EventType.PROCESS_THROTTLE] },
          ],
          stop.signal,
        );
        const flooder = container();
        const flooding = flood(flooder, 4);
        await new Promise((r) => setTimeout(r, 1000));
        const escaped = await escapeFrom(container());
        expect(escaped.out).toContain("ENTERED");
        const calls = await flooding;
        expect(calls).toBeGreaterThan(100_000);

        const mine = (evs: GetEventsResponse[]) =>
          evs.filter((e) => e.event.case === "processKprobe" && kprobeOf(e).process?.pid === escaped.pid);
        await waitFor(
          () => mine(events).length >= 4,
          30_000,
          "the escape's four setns events at the SDK client",
        );
        expect(mine(events)).toHaveLength(4);

        const docker = flooder.id.slice(0, 31);
        await waitFor(
          () => throttlesOf(events, docker).some((t) => t.type === ThrottleType.THROTTLE_STOP),
          15_000,
          "the flood's throttle to start and stop",
        );
        const [start, stopEvent] = throttlesOf(events, docker);
        expect(start?.type).toBe(ThrottleType.THROTTLE_START);
        expect(start?.suppressedEvents).toBeGreaterThan(0n);
        expect(stopEvent?.type).toBe(ThrottleType.THROTTLE_STOP);
        expect(stopEvent?.suppressedEvents).toBeGreaterThanOrEqual(start?.suppressedEvents ?? 0n);
        expect(Number(stopEvent?.suppressedEvents)).toBeLessThan(calls);

        // buf curl prints pretty JSON objects one after another; it is far slower than the flood.
        const curlEscape = () =>
          curlOut
            .split(/\n}\n/)
            .filter((chunk) => chunk.includes('"processKprobe"') && chunk.includes(`"pid": ${escaped.pid},`))
            .filter((chunk) => /"binary": "[^"]*nsenter"/.test(chunk.slice(chunk.indexOf('"process"'))));
        await waitFor(() => curlEscape().length >= 4, 90_000, "the escape's four setns events at buf curl");
        expect(curlEscape()).toHaveLength(4);
      } finally {
        stop.abort();
        if (curl.pid !== undefined) process.kill(-curl.pid, "SIGTERM");
        await agent.stop();
      }
    },
    180_000,
  );

  rootIt(
    "with one stalled client and three live ones, the live ones get every event of a paced run and the stalled one's drops are counted",
    async () => {
      const agent = await startExampleAgent("namespace-access.yaml", { eventQueueSize: DEFAULT_QUEUE });
      const url = agent.server.addresses.tcp?.url as string;
      const stalled = openRawEventStream(url, {}, { read: false });
      const live = [1, 2, 3].map(() =>
        openRawEventStream(url, {
          allowList: [{ eventSet: [EventType.PROCESS_KPROBE], binaryRegex: [`${paced.split("/").pop()}$`] }],
        }),
      );
      try {
        await waitFor(() => agent.hub.subscriberCount >= 4, 5000, "four streams");
        const out = await promisify(execFile)(paced, ["5000", "4"]);
        const calls = Number(out.stdout.trim().split(" ")[0]);
        expect(calls).toBe(20_000);
        await waitFor(() => live.every((c) => c.count() >= calls), 30_000, "every event at each live client");
        for (const c of live) expect(c.count()).toBe(calls);

        const subscribers = agent.hub.stats().perSubscriber;
        const lossy = subscribers.filter((s) => s.dropped + s.evicted > 0);
        expect(lossy).toHaveLength(1); // the stalled one, and only it
        const s = lossy[0] as (typeof subscribers)[number];
        expect(s.queued + s.dropped).toBeGreaterThanOrEqual(calls); // it was offered every event
        expect(s.queueLength).toBeLessThanOrEqual(DEFAULT_QUEUE);
        expect(stalled.count()).toBe(0);
        expect(agent.hub.stats().dropped).toBe(s.dropped + s.evicted);
      } finally {
        stalled.close();
        for (const c of live) c.close();
        await agent.stop();
      }
    },
    90_000,
  );

  rootIt(
    "a storm's calls = events delivered + suppressed in the kernel + lost in the ring + dropped at the listener, exactly",
    async () => {
      const agent = await startExampleAgent("namespace-access.yaml", {
        eventQueueSize: DEFAULT_QUEUE,
        metricsServer: "127.0.0.1:0",
      });
      const url = agent.server.addresses.tcp?.url as string;
      const client = openRawEventStream(url, {
        allowList: [{ eventSet: [EventType.PROCESS_KPROBE], binaryRegex: [`${paced.split("/").pop()}$`] }],
      });
      try {
        await waitFor(() => agent.hub.subscriberCount >= 1, 5000, "the stream");
        const ringBefore = agent.sensor.counters().kernel.ringbufFull;
        const storm = container();
        // 400k calls at 200k/s: more than this pipeline delivers on any machine of this kind, so
        // the kernel has to suppress. (The generator makes every call asked for, however long it
        // takes: 5M/s for 3 s was 15M calls, ~105 s on a loaded machine, past the timeout.)
        const calls = await flood(storm, 2, 200_000);
        // Settled: nothing new at the client for a second.
        for (let last = -1; client.count() !== last; ) {
          last = client.count();
          await new Promise((r) => setTimeout(r, 1000));
        }
        const suppressed = agent.sensor
          .sources()
          .filter((s) => s.pid === 0 && s.cgroupName === storm.id)
          .reduce((n, s) => n + s.suppressed, 0n);
        const ringLost = agent.sensor.counters().kernel.ringbufFull - ringBefore;
        const listenerLost = agent.hub.stats().dropped;
        expect(suppressed).toBeGreaterThan(0n); // a 200k/s storm does saturate this pipeline
        expect(BigInt(client.count()) + suppressed + ringLost + BigInt(listenerLost)).toBe(BigInt(calls));

        // The same count where users read it: GetHealth's pipeline block and the metrics.
        const { throttled } = agent.sensor.counters().kernel;
        expect(throttled).toBeGreaterThanOrEqual(suppressed);
        const health = await createNsguardClient(url).getHealth({});
        expect(health.pipeline?.floodSuppressed).toBe(throttled);
        expect(health.pipeline?.listeners.map((l) => l.dropped)).toEqual([BigInt(listenerLost)]);
        const metrics = await (await fetch(agent.metricsUrl as string)).text();
        expect(metrics).toContain(`nsguard_flood_suppressed_events_total ${throttled}`);
      } finally {
        client.close();
        await agent.stop();
      }
    },
    90_000,
  );

  rootIt(
    "under a flood, the deny policy still kills an escaping process and its Sigkill event is reported",
    async () => {
      const agent = await startExampleAgent("namespace-access.yaml", {
        eventQueueSize: DEFAULT_QUEUE,
        tracingPolicies: [
          join(EXAMPLES, "namespace-access.yaml"),
          join(EXAMPLES, "deny-namespace-access.yaml"),
        ],
      });
      const stop = new AbortController();
      try {
        const events = await sdkCollect(
          agent,
          [
            {
              eventSet: [EventType.PROCESS_KPROBE],
              binaryRegex: ["nsenter$"],
              policyNames: ["deny-namespace-access"],
            },
          ],
          stop.signal,
        );
        // The flooder is its container's init (pid 1), which the seed's deny policy spares.
        const flooding = flood(container(), 4);
        await new Promise((r) => setTimeout(r, 1000));
        const escaped = await escapeFrom(container(), "-u");
        expect(escaped.out).not.toContain("ENTERED");
        expect(escaped.out).toContain("rc=137");
        await flooding;
        await waitFor(() => events.length >= 1, 30_000, "the Sigkill event");
        expect(kprobeOf(events[0]).action).toBe(KprobeAction.SIGKILL);
        expect(kprobeOf(events[0]).process?.binary).toMatch(/nsenter$/);
      } finally {
        stop.abort();
        await agent.stop();
      }
    },
    90_000,
  );
});
