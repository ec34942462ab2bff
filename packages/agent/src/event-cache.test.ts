import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { type GetEventsResponse, type Pod, PodSchema } from "@nsguard/sdk";
import { afterAll, describe, expect, it } from "vitest";
import { buildExecEvent } from "./builder/event-builder.js";
import { BootClock } from "./clock.js";
import { StaticPodInfoSource } from "./container/pod-info.js";
import { EventCache } from "./event-cache.js";
import type { EventSink, PublishMeta } from "./observer.js";
import { ProcessFlag } from "./process/flags.js";
import { ProcessCache } from "./process/process-cache.js";
import type { ExecInput } from "./process/raw-input.js";
import { HOST_NAMESPACES } from "./testing/namespaces.js";

const NODE = "node-a";
const clock = new BootClock(1_700_000_000_000_000_000n);
const ctx = { nodeName: NODE, clock };
const CID = "057dc8d712abf96c628c82ea111d53a205a256b0dc39bb31284426aaf378acbc";
const OTHER = "a5a6a3af5d51ad95b915ca948710b90a94abc279e84963b9d22a39f342ce67d9";
const emptyProc = mkdtempSync(join(tmpdir(), "nsguard-noproc-"));
afterAll(() => rmSync(emptyProc, { recursive: true, force: true }));

const pod = (id: string, name: string): Pod =>
  create(PodSchema, { namespace: "default", name, container: { id: `containerd://${id}`, name: "c" } });

function execIn(containerId: string, pid: number): ExecInput {
  const ktime = BigInt(pid) * 1000n;
  return {
    ktime,
    task: {
      key: { pid, ktime },
      pid,
      tid: pid,
      ppid: 1,
      nspid: 3,
      uid: 0,
      euid: 0,
      auid: 4294967295,
      ns: HOST_NAMESPACES,
    },
    parent: { pid: 0, ktime: 0n },
    flags: ProcessFlag.EXECVE,
    filename: `/bin/p${pid}`,
    args: [],
    cwd: "/",
    cgroupName: containerId,
  };
}

/** A runtime source that learns containers only when asked (what CRI and podman refresh() do). */
class AskedPodSource extends StaticPodInfoSource {
  readonly asked: string[] = [];
  constructor(private readonly runtime: Map<string, Pod>) {
    super();
  }
  async refresh(containerId: string): Promise<void> {
    this.asked.push(containerId);
    await new Promise((r) => setTimeout(r, 5));
    for (const [id, p] of this.runtime) if (id.startsWith(containerId)) this.add(p);
  }
}

function setup(
  podInfo: StaticPodInfoSource,
  options: { maxEntries?: number; maxPerContainer?: number } = {},
) {
  let nowMs = 0;
  const published: GetEventsResponse[] = [];
  const sink: EventSink = {
    publish: (event: GetEventsResponse, _meta?: PublishMeta) => void published.push(event),
    saturated: false,
    onRoom: () => () => undefined,
  };
  const cache = new ProcessCache({ nodeName: NODE, clock, procRoot: emptyProc, podInfo });
  const events = new EventCache({
    podInfo,
    cache,
    sink,
    maxWaitMs: 1000,
    retryIntervalMs: 10_000, // tests call retry() themselves
    now: () => nowMs,
    ...options,
  });
  const exec = (containerId: string, pid: number) => {
    const raw = execIn(containerId, pid);
    cache.upsertFromExec(raw);
    events.publish(buildExecEvent(raw, cache, ctx));
  };
  return { events, published, exec, advance: (ms: number) => (nowMs += ms) };
}

const podName = (ev: GetEventsResponse | undefined) =>
  ev?.event.case === "processExec" ? ev.event.value.process?.pod?.name : "not an exec";

describe("EventCache: events that arrive before their pod", () => {
  it("passes host processes and containers with a known pod straight through", () => {
    const { events, published, exec } = setup(new StaticPodInfoSource([pod(CID, "xwing")]));
    exec("", 10);
    exec(CID, 11);
    expect(published.map(podName)).toEqual([undefined, "xwing"]);
    expect(events.stats()).toEqual({ held: 0, resolved: 0, timedOut: 0, overflowed: 0, unknownContainer: 0 });
    events.close();
  });

  it("holds an event until the source learns its container, asking the source once", async () => {
    const source = new AskedPodSource(new Map([[CID, pod(CID, "late")]]));
    const { events, published, exec } = setup(source);
    exec(CID, 20);
    exec(CID, 21);
    expect(published).toEqual([]);
    expect(source.asked).toEqual([CID.slice(0, 31)]);
    await new Promise((r) => setTimeout(r, 30)); // refresh answers, then retries by itself
    expect(published.map(podName)).toEqual(["late", "late"]);
    expect(events.stats()).toMatchObject({ held: 0, resolved: 2 });
    events.close();
  });

  it("sends an event without its pod after maxWaitMs, counted, never dropped", () => {
    const { events, published, exec, advance } = setup(new StaticPodInfoSource());
    exec(CID, 30);
    advance(999);
    events.retry();
    expect(published).toEqual([]);
    advance(1);
    events.retry();
    expect(published.map(podName)).toEqual([undefined]);
    expect(events.stats()).toMatchObject({ held: 0, timedOut: 1, resolved: 0 });
    events.close();
  });

  it("keeps one process's events in order: a later one waits behind the held one", () => {
    const source = new StaticPodInfoSource();
    const { events, published, exec } = setup(source);
    exec(CID, 40);
    exec(OTHER, 41);
    source.add(pod(OTHER, "other"));
    events.retry();
    expect(published.map(podName)).toEqual(["other"]);
    source.add(pod(CID, "first"));
    events.retry();
    expect(published.map(podName)).toEqual(["other", "first"]);
    events.close();
  });

  it("after a container was looked for in vain, its events go at once for a while, then wait again", () => {
    const { events, published, exec, advance } = setup(new StaticPodInfoSource());
    exec(CID, 60);
    advance(1000);
    events.retry(); // timed out: the container is remembered as unknown
    exec(CID, 61);
    expect(published.map(podName)).toEqual([undefined, undefined]);
    expect(events.stats()).toMatchObject({ held: 0, timedOut: 1, unknownContainer: 1 });
    advance(30_000);
    exec(CID, 62); // remembered no longer: waits (and asks) again
    expect(events.stats()).toMatchObject({ held: 1 });
    events.close();
  });

  it("one container's flood takes at most its share: another container's events still wait for their pod", () => {
    const source = new StaticPodInfoSource();
    const { events, published, exec } = setup(source, { maxEntries: 8, maxPerContainer: 2 });
    for (let pid = 70; pid < 75; pid++) exec(CID, pid); // 2 held, 3 sent at once
    exec(OTHER, 80);
    expect(events.stats()).toMatchObject({ held: 3, overflowed: 3 });
    source.add(pod(OTHER, "other"));
    events.retry();
    expect(published.map(podName).filter((n) => n === "other")).toEqual(["other"]);
    events.close();
  });

  it("sends at once, without the pod, when full", () => {
    const { events, published, exec } = setup(new StaticPodInfoSource(), { maxEntries: 2 });
    exec(CID, 50);
    exec(OTHER, 51);
    exec(CID, 52);
    expect(published).toHaveLength(1);
    expect(events.stats()).toMatchObject({ held: 2, overflowed: 1 });
    events.close();
    expect(published).toHaveLength(3); // close flushes what is still held
  });
});
