import { afterAll, beforeAll, describe, expect } from "vitest";
import { PodmanPodInfoSource } from "../container/podman/podman-pod-info.js";
import { rootIt, waitFor } from "./root-tier.js";
import { PODMAN_TEST_IMAGE, PodmanHarness, type RunningContainer } from "./runtimes/podman.js";

/**
 * PodmanPodInfoSource against a real `podman system service` (a private one: see PodmanHarness).
 * Timings are printed for the record, never asserted.
 */
describe("PodmanPodInfoSource on real podman", () => {
  let podman: PodmanHarness;
  let source: PodmanPodInfoSource | undefined;
  let app: RunningContainer;
  let podId: string;

  beforeAll(async () => {
    if (process.getuid?.() !== 0) return;
    podman = await PodmanHarness.start();
    console.log("podman harness setup ms", podman.timings);
    podId = await podman.createPod({ name: "xwing", labels: { app: "xwing", org: "alliance" } });
    app = await podman.run({
      name: "xwing-app",
      pod: "xwing",
      labels: { app: "xwing", "io.kubernetes.pod.namespace": "empire" },
    });
  }, 60_000);

  afterAll(async () => {
    await source?.close();
    await podman?.cleanup();
  }, 60_000);

  rootIt(
    "indexes existing containers at start: full id and 31-char prefix give the pod by value",
    async () => {
      const t0 = performance.now();
      source = await PodmanPodInfoSource.start({ socketPath: podman.socketPath, deletedGraceMs: 60_000 });
      const pod = source.lookup(app.id);
      console.log("start → lookup ms", performance.now() - t0);
      expect(pod).toBeDefined();
      expect(pod?.name).toBe("xwing");
      expect(pod?.namespace).toBe("empire");
      expect(pod?.uid).toBe(podId);
      expect(pod?.podLabels).toStrictEqual({ app: "xwing", org: "alliance" });
      expect([pod?.workload, pod?.workloadKind]).toStrictEqual(["xwing", "Pod"]);
      expect(pod?.container?.id).toBe(`podman://${app.id}`);
      expect(pod?.container?.name).toBe("xwing-app");
      expect(pod?.container?.image?.name).toBe(PODMAN_TEST_IMAGE);
      const digest = (
        await podman.podman(["image", "inspect", "-f", "{{.Digest}}", PODMAN_TEST_IMAGE])
      ).trim();
      expect(pod?.container?.image?.id).toBe(`localhost/nsguard-bb@${digest}`);
      const startedAt = (await podman.podman(["inspect", "-f", "{{.State.StartedAt.Unix}}", app.id])).trim();
      expect(pod?.container?.startTime?.seconds).toBe(BigInt(startedAt));

      expect(source.lookup(app.id.slice(0, 31))).toStrictEqual(pod);
      expect(source.lookup(`podman://${app.id}`)).toStrictEqual(pod);
      // A fresh object per call: what one caller fills in is not seen by the next.
      const mine = source.lookup(app.id);
      if (mine?.container) mine.container.pid = 7;
      expect(source.lookup(app.id)).toStrictEqual(pod);

      // The pod's infra (pause) container is not a workload.
      const infra = (await podman.podman(["pod", "inspect", "-f", "{{.InfraContainerID}}", "xwing"])).trim();
      expect(infra).toMatch(/^[0-9a-f]{64}$/);
      expect(source.lookup(infra)).toBeUndefined();
    },
  );

  rootIt(
    "picks up a container started later from the event stream, and keeps it a while after removal",
    async () => {
      if (!source) throw new Error("the first test starts the source");
      const s = source;
      const indexedBefore = s.stats.containers;
      const running = podman.run({ name: "xwing-late", pod: "xwing", labels: { app: "xwing" } });
      await waitFor(() => s.stats.containers > indexedBefore, 10_000, "the event stream to index xwing-late");
      const indexedAt = Date.now();
      const late = await running;
      expect(s.lookup(late.id)).toBeDefined();
      const createdAt = Number(
        (await podman.podman(["inspect", "-f", "{{.Created.UnixMilli}}", late.id])).trim(),
      );
      console.log("container created → indexed from the event stream ms", indexedAt - createdAt);
      // Indexed at "create" (not started yet); the "start" event fills in start_time.
      await waitFor(
        () => s.lookup(late.id)?.container?.startTime !== undefined,
        10_000,
        "xwing-late's start_time",
      );
      expect(s.lookup(late.id)?.container?.name).toBe("xwing-late");
      expect(s.lookup(late.id)?.name).toBe("xwing");

      // A second source without a grace period shows the removal is really seen.
      const forgetful = await PodmanPodInfoSource.start({ socketPath: podman.socketPath, deletedGraceMs: 0 });
      try {
        expect(forgetful.lookup(late.id)?.container?.name).toBe("xwing-late");
        const before = [s.stats.events, forgetful.stats.events];
        await podman.remove("xwing-late");
        await waitFor(
          () => s.stats.events > (before[0] ?? 0) && forgetful.stats.events > (before[1] ?? 0),
          10_000,
          "the remove event",
        );
        expect(s.lookup(late.id)?.container?.name).toBe("xwing-late"); // late events still resolve
        expect(forgetful.lookup(late.id)).toBeUndefined();
        expect(s.lookup(app.id)?.name).toBe("xwing");
        expect(forgetful.lookup(app.id)?.name).toBe("xwing");
      } finally {
        await forgetful.close();
      }
    },
  );

  rootIt("survives the service going away and catches up when it is back", async () => {
    if (!source) throw new Error("the first test starts the source");
    const s = source;
    const errorsBefore = s.stats.apiErrors;
    await podman.stopService();
    await waitFor(() => !s.stats.connected, 10_000, "the source to notice the service stopped");
    expect(s.stats.streamDrops).toBeGreaterThan(0);
    expect(() => s.lookup(app.id)).not.toThrow();
    expect(s.lookup(app.id)?.name).toBe("xwing"); // what we knew stays known
    await expect(s.refresh("f".repeat(64))).resolves.toBeUndefined();
    expect(s.stats.apiErrors).toBeGreaterThan(errorsBefore);

    // Started while nobody was listening: the listing after reconnecting finds it.
    const offline = await podman.run({ name: "xwing-offline", pod: "xwing", labels: { app: "xwing" } });
    await podman.startService();
    const t0 = performance.now();
    await waitFor(() => s.lookup(offline.id) !== undefined, 15_000, "the resync after reconnecting");
    console.log("service back → lookup after reconnect ms", performance.now() - t0);
    expect(s.stats.connected).toBe(true);
  });

  rootIt("refresh finds a container that podman never announced (events_logger=none)", async () => {
    const quiet = await PodmanHarness.start({ eventsLogger: "none" });
    let q: PodmanPodInfoSource | undefined;
    try {
      q = await PodmanPodInfoSource.start({ socketPath: quiet.socketPath });
      const src = q;
      // Without events the source still relists on each reconnection (with backoff); an attempt
      // counts only if no relisting happened between `podman run` and the lookup after refresh.
      let proven = false;
      for (let attempt = 0; attempt < 5 && !proven; attempt++) {
        const resyncs = src.stats.resyncs;
        const c = await quiet.run({ name: `silent-${attempt}`, labels: { app: "silent" } });
        const before = src.lookup(c.id);
        const t0 = performance.now();
        await src.refresh(c.id.slice(0, 31));
        const refreshMs = performance.now() - t0;
        const pod = src.lookup(c.id);
        if (src.stats.resyncs !== resyncs) continue;
        console.log("refresh ms", refreshMs);
        expect(before).toBeUndefined();
        expect(pod?.name).toBe(`silent-${attempt}`); // no pod: the container is its own
        expect(pod?.podLabels).toStrictEqual({ app: "silent" });
        proven = true;
      }
      expect(proven).toBe(true);
      await expect(q.refresh("f".repeat(64))).resolves.toBeUndefined(); // unknown: found nothing, no error
    } finally {
      await q?.close();
      await quiet.cleanup();
    }
  });
});
