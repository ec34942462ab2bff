import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { type Pod, PodSchema } from "@nsguard/sdk";
import { afterAll, beforeAll, describe, expect } from "vitest";
import { isRoot, randomContainerId, rootIt } from "../../e2e/root-tier.js";
import { BUSYBOX_IMAGE, TestContainerd } from "../../e2e/runtimes/containerd.js";
import { CriError, CriPodInfoSource } from "./cri-pod-info.js";

const SEED_LABELS = { "app.kubernetes.io/name": "xwing", class: "xwing", org: "alliance" };

describe.runIf(isRoot || process.env.CI)("CRI pod metadata from a real containerd (root tier)", () => {
  let containerd: TestContainerd;
  let sandbox: string;
  let spaceship: string;
  const uid = randomUUID();
  const sources: CriPodInfoSource[] = [];
  const start = async (options: Parameters<typeof CriPodInfoSource.start>[0] = {}) => {
    const source = await CriPodInfoSource.start({ endpoint: containerd.socketPath, ...options });
    sources.push(source);
    return source;
  };

  /** The pod block the seed event shows, for a container of this pod as containerd reports it. */
  const expectedPod = async (containerId: string, name: string): Promise<Pod> => {
    const { status } = await containerd.cri.containerStatus({ containerId });
    return create(PodSchema, {
      namespace: "default",
      name: "xwing",
      uid,
      container: {
        id: `containerd://${containerId}`,
        name,
        image: { id: containerd.imageRef, name: BUSYBOX_IMAGE },
        startTime: { seconds: (status?.startedAt ?? 0n) / 1_000_000_000n, nanos: 0 },
      },
      podLabels: SEED_LABELS,
      workload: "xwing",
      workloadKind: "Pod",
    });
  };

  beforeAll(async () => {
    containerd = await TestContainerd.start(mkdtempSync(join(tmpdir(), "nsguard-cri-")));
    sandbox = await containerd.runPod({
      name: "xwing",
      namespace: "default",
      uid,
      // kubelet adds its io.kubernetes.* keys to every sandbox; they are not the pod's labels.
      labels: {
        ...SEED_LABELS,
        "io.kubernetes.pod.name": "xwing",
        "io.kubernetes.pod.namespace": "default",
        "io.kubernetes.pod.uid": uid,
      },
    });
    spaceship = await containerd.createContainer(sandbox, {
      name: "spaceship",
      command: ["/bin/sleep", "infinity"],
    });
  }, 60_000);

  afterAll(async () => {
    for (const source of sources) await source.close();
    await containerd?.stop();
  });

  rootIt("resolves a running container by full id, 31-char prefix and qualified id", async () => {
    const t0 = performance.now();
    const source = await start();
    const pod = source.lookup(spaceship);
    console.log(`start → first lookup: ${(performance.now() - t0).toFixed(1)} ms`);

    expect(source.runtimeName).toBe("containerd");
    const expected = await expectedPod(spaceship, "spaceship");
    expect(pod).toEqual(expected);
    expect(source.lookup(spaceship.slice(0, 31))).toEqual(expected);
    expect(source.lookup(`containerd://${spaceship}`)).toEqual(expected);
    expect(pod?.container?.image?.id).toMatch(/^localhost\/nsguard-busybox@sha256:[0-9a-f]{64}$/);
    // A started container has a start time close to now (not 1970, not nanoseconds as seconds).
    const startedMs = Number(pod?.container?.startTime?.seconds ?? 0n) * 1000;
    expect(Math.abs(Date.now() - startedMs)).toBeLessThan(10 * 60_000);
    // An id nobody runs, or one that only shares the index prefix: no pod rather than a wrong one.
    expect(source.lookup(randomContainerId())).toBeUndefined();
    expect(source.lookup(`${spaceship.slice(0, 15)}${"0".repeat(49)}`)).toBeUndefined();
    // A fresh object per call: callers fill per-process fields.
    if (pod?.container) pod.container.pid = 37;
    expect(source.lookup(spaceship)?.container?.pid).toBeUndefined();
  });

  rootIt("finds a container started after start() through refresh()", async () => {
    const source = await start({ resyncIntervalMs: 0 });
    const later = await containerd.createContainer(sandbox, {
      name: "cockpit",
      command: ["/bin/sleep", "infinity"],
    });
    expect(source.lookup(later)).toBeUndefined();
    const t0 = performance.now();
    await source.refresh(later);
    console.log(`refresh of a new container: ${(performance.now() - t0).toFixed(1)} ms`);
    expect(source.lookup(later)).toEqual(await expectedPod(later, "cockpit"));
    expect(source.counters()).toMatchObject({ refreshes: 1, refreshesFound: 1, errors: 0 });
    // Known now: refreshing again asks nothing.
    await source.refresh(later);
    expect(source.counters().refreshes).toBe(1);
    // An id the runtime does not have resolves, found nothing, and is not asked again at once.
    const stranger = randomContainerId();
    await source.refresh(stranger);
    await source.refresh(stranger);
    expect(source.lookup(stranger)).toBeUndefined();
    expect(source.counters()).toMatchObject({ refreshes: 2, refreshesFound: 1, errors: 0 });
  });

  rootIt("keeps a removed container for the retention, then drops it on a resync", async () => {
    const retaining = await start({ resyncIntervalMs: 0 });
    const forgetting = await start({ resyncIntervalMs: 0, deletedRetentionMs: 0 });
    const doomed = await containerd.createContainer(sandbox, {
      name: "doomed",
      command: ["/bin/sleep", "infinity"],
    });
    await retaining.resync();
    await forgetting.resync();
    expect(retaining.lookup(doomed)?.container?.name).toBe("doomed");
    expect(forgetting.lookup(doomed)?.container?.name).toBe("doomed");

    await containerd.stopContainer(doomed);
    await containerd.removeContainer(doomed);
    expect(await retaining.resync()).toBe(true);
    expect(await forgetting.resync()).toBe(true);
    // Late events still resolve while retained...
    expect(retaining.lookup(doomed)?.container?.name).toBe("doomed");
    // ...and not once the retention is over; the other containers stay.
    expect(forgetting.lookup(doomed)).toBeUndefined();
    expect(forgetting.counters().removed).toBe(1);
    expect(forgetting.lookup(spaceship)?.container?.name).toBe("spaceship");
  });

  rootIt("survives the runtime going away and reconnects when it is back", async () => {
    const source = await start({ resyncIntervalMs: 0, missRetryMs: 0 });
    await containerd.stopDaemon();
    try {
      // Known containers still resolve from the index; asking the runtime does not throw.
      expect(source.lookup(spaceship)?.container?.name).toBe("spaceship");
      const unknown = randomContainerId();
      await expect(source.refresh(unknown)).resolves.toBeUndefined();
      expect(await source.resync()).toBe(false);
      expect(source.lookup(unknown)).toBeUndefined();
      expect(source.counters().errors).toBe(2);
      // Starting a source against a runtime that is not there is an error, and a typed one.
      const failed = await CriPodInfoSource.start({ endpoint: `unix://${containerd.socketPath}` }).catch(
        (err: unknown) => err,
      );
      expect(failed).toBeInstanceOf(CriError);
      expect(failed).toMatchObject({ operation: "Version", code: "unavailable" });
    } finally {
      await containerd.startDaemon();
    }
    // The same source, no new connection set up by anyone: the next call dials again.
    const afterRestart = await containerd.createContainer(sandbox, {
      name: "phoenix",
      command: ["/bin/sleep", "infinity"],
    });
    await source.refresh(afterRestart);
    expect(source.lookup(afterRestart)).toEqual(await expectedPod(afterRestart, "phoenix"));
  });
});
