import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { randomContainerId, waitFor } from "../../e2e/root-tier.js";
import {
  KubernetesApiUnavailableError,
  KubernetesConfigError,
  type KubernetesPodInfoOptions,
  KubernetesPodInfoSource,
} from "./kubernetes-pod-info.js";
import { FakeApiServer, type FakeApiServerOptions, type PodObject } from "./testing/fake-apiserver.js";

const NODE = "node-a";
const WAIT_MS = 10_000;

let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), "nsguard-k8s-"));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Servers and sources a test started; afterEach closes them. */
const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

let kubeconfigs = 0;
function kubeconfigFor(server: FakeApiServer, extra: { ca?: string; token?: string } = {}): string {
  const path = join(scratch, `kubeconfig-${++kubeconfigs}.yaml`);
  const cluster = extra.ca
    ? { server: server.url, "certificate-authority-data": Buffer.from(extra.ca).toString("base64") }
    : // client-node refuses plain HTTP unless TLS verification is off, as kubectl does not.
      { server: server.url, "insecure-skip-tls-verify": true };
  const config = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "fake", cluster }],
    users: [{ name: "agent", user: extra.token ? { token: extra.token } : {} }],
    contexts: [{ name: "fake", context: { cluster: "fake", user: "agent" } }],
    "current-context": "fake",
  };
  writeFileSync(path, JSON.stringify(config)); // JSON is YAML
  return path;
}

async function startServer(options: FakeApiServerOptions = {}): Promise<FakeApiServer> {
  const server = await FakeApiServer.start(options);
  open.push(server);
  return server;
}

async function startSource(
  server: FakeApiServer,
  options: Partial<KubernetesPodInfoOptions> = {},
): Promise<KubernetesPodInfoSource> {
  const source = await KubernetesPodInfoSource.start({
    kubeconfig: kubeconfigFor(server),
    nodeName: NODE,
    backoff: { initialMs: 20, maxMs: 200 },
    ...options,
  });
  open.push(source);
  return source;
}

interface ContainerSpec {
  name: string;
  id: string;
  image?: string;
  startedAt?: string;
}

interface PodSpec {
  name: string;
  namespace?: string;
  node?: string;
  labels?: Record<string, string>;
  generateName?: string;
  owner?: { kind: string; name: string };
  containers?: ContainerSpec[];
  initContainers?: ContainerSpec[];
  ephemeralContainers?: ContainerSpec[];
  privileged?: string[];
}

function statusOf(c: ContainerSpec) {
  return {
    name: c.name,
    containerID: `containerd://${c.id}`,
    image: c.image ?? "docker.io/library/busybox:1.36",
    imageID: `docker.io/library/busybox@sha256:${"ab".repeat(32)}`,
    ready: true,
    restartCount: 0,
    state: { running: { startedAt: c.startedAt ?? "2024-05-01T10:00:00Z" } },
  };
}

function podObject(spec: PodSpec): PodObject {
  const containers = spec.containers ?? [];
  return {
    metadata: {
      name: spec.name,
      namespace: spec.namespace ?? "default",
      labels: spec.labels ?? {},
      ...(spec.generateName ? { generateName: spec.generateName } : {}),
      ...(spec.owner
        ? {
            ownerReferences: [
              {
                apiVersion: "apps/v1",
                kind: spec.owner.kind,
                name: spec.owner.name,
                uid: "owner-uid",
                controller: true,
              },
            ],
          }
        : {}),
    },
    spec: {
      nodeName: spec.node ?? NODE,
      containers: containers.map((c) => ({
        name: c.name,
        image: c.image ?? "busybox",
        ...(spec.privileged?.includes(c.name) ? { securityContext: { privileged: true } } : {}),
      })),
    },
    status: {
      phase: "Running",
      initContainerStatuses: (spec.initContainers ?? []).map(statusOf),
      containerStatuses: containers.map(statusOf),
      ephemeralContainerStatuses: (spec.ephemeralContainers ?? []).map(statusOf),
    },
  };
}

const lists = (server: FakeApiServer) => server.requests.filter((r) => r.verb === "list").length;
const watches = (server: FakeApiServer) => server.requests.filter((r) => r.verb === "watch");

describe("KubernetesPodInfoSource", { timeout: 30_000 }, () => {
  it("indexes this node's pods by their container statuses once start resolves", async () => {
    const server = await startServer();
    const app = randomContainerId();
    const init = randomContainerId();
    const debug = randomContainerId();
    const elsewhere = randomContainerId();
    const stored = server.put(
      podObject({
        name: "web",
        namespace: "shop",
        labels: { app: "web" },
        containers: [{ name: "app", id: app, image: "nginx:1.27", startedAt: "2024-05-01T10:00:07Z" }],
        initContainers: [{ name: "setup", id: init }],
        ephemeralContainers: [{ name: "debugger", id: debug }],
        privileged: ["app"],
      }),
    );
    server.put(podObject({ name: "other", node: "node-b", containers: [{ name: "c", id: elsewhere }] }));
    const source = await startSource(server);

    // No polling: start resolves only after the first list is in the index.
    const pod = source.lookup(app);
    expect(pod).toMatchObject({
      namespace: "shop",
      name: "web",
      uid: stored.metadata.uid,
      podLabels: { app: "web" },
      workload: "web",
      workloadKind: "Pod",
      container: {
        id: `containerd://${app}`,
        name: "app",
        image: { id: `docker.io/library/busybox@sha256:${"ab".repeat(32)}`, name: "nginx:1.27" },
        securityContext: { privileged: true },
      },
    });
    expect(pod?.container?.startTime?.seconds).toBe(BigInt(Date.parse("2024-05-01T10:00:07Z") / 1000));
    expect(source.lookup(`containerd://${app}`)?.name).toBe("web");
    expect(source.lookup(app.slice(0, 31))?.container?.name).toBe("app");
    expect(source.lookup(init)?.container?.name).toBe("setup");
    expect(source.lookup(debug)?.container?.name).toBe("debugger");
    expect(source.lookup(debug)?.container?.securityContext?.privileged).toBe(false);
    // The server only sent pods on this node.
    expect(source.lookup(elsewhere)).toBeUndefined();
    expect(server.requests[0]).toMatchObject({
      verb: "list",
      query: { fieldSelector: `spec.nodeName=${NODE}` },
    });
    await waitFor(() => watches(server).length > 0, WAIT_MS, "the watch request");
    expect(watches(server)[0]?.query).toMatchObject({
      fieldSelector: `spec.nodeName=${NODE}`,
      allowWatchBookmarks: "true",
    });

    // A fresh object per call: what one caller fills in does not leak into the next.
    const first = source.lookup(app);
    if (first?.container) first.container.pid = 7;
    expect(source.lookup(app)?.container?.pid).toBeUndefined();
  });

  it("resolves an event that arrived before its pod once the pod is added", async () => {
    const server = await startServer();
    const source = await startSource(server);
    const id = randomContainerId();
    expect(source.lookup(id)).toBeUndefined();
    server.put(podObject({ name: "late", containers: [{ name: "c", id }] }));
    await waitFor(() => source.lookup(id) !== undefined, WAIT_MS, "the pod added after the event");
    expect(source.lookup(id)?.name).toBe("late");
  });

  it("sees a pod once it is scheduled to this node (the selector's ADDED)", async () => {
    const server = await startServer();
    const source = await startSource(server);
    const id = randomContainerId();
    server.put(podObject({ name: "pending", node: "", containers: [{ name: "c", id }] }));
    server.update("default", "pending", (p) => {
      p.spec = { ...p.spec, nodeName: NODE };
    });
    await waitFor(() => source.lookup(id) !== undefined, WAIT_MS, "the pod bound to this node");
    // Moved to another node: gone from this node's watch (DELETED), so only the deleted cache has it.
    server.update("default", "pending", (p) => {
      p.spec = { ...p.spec, nodeName: "node-b" };
      p.metadata.labels = { moved: "yes" };
    });
    await barrier(server, source);
    // The DELETED event carries the pod's new state.
    expect(source.lookup(id)?.podLabels).toEqual({ moved: "yes" });
  });

  it("re-indexes on update: new labels, and a restarted container's new id replaces the old", async () => {
    const server = await startServer();
    const oldId = randomContainerId();
    const sidecar = randomContainerId();
    server.put(
      podObject({
        name: "api",
        labels: { version: "1" },
        containers: [
          { name: "app", id: oldId },
          { name: "sidecar", id: sidecar },
        ],
      }),
    );
    const source = await startSource(server);
    expect(source.lookup(oldId)?.podLabels).toEqual({ version: "1" });

    server.update("default", "api", (p) => {
      p.metadata.labels = { version: "2" };
    });
    await waitFor(() => source.lookup(sidecar)?.podLabels.version === "2", WAIT_MS, "the new labels");

    const newId = randomContainerId();
    server.update("default", "api", (p) => {
      p.status = podObject({
        name: "api",
        containers: [
          { name: "app", id: newId, startedAt: "2024-05-01T11:00:00Z" },
          { name: "sidecar", id: sidecar },
        ],
      }).status;
    });
    await waitFor(() => source.lookup(newId) !== undefined, WAIT_MS, "the restarted container");
    expect(source.lookup(newId)?.container?.name).toBe("app");
    expect(source.lookup(oldId)).toBeUndefined();
    expect(source.lookup(sidecar)?.name).toBe("api");
  });

  it("keeps deleted pods resolvable, bounded by an LRU", async () => {
    const server = await startServer();
    const ids = [randomContainerId(), randomContainerId(), randomContainerId()];
    for (const [i, id] of ids.entries())
      server.put(podObject({ name: `p${i}`, containers: [{ name: "c", id }] }));
    const source = await startSource(server, { deletedPodCacheSize: 2 });
    const [a = "", b = "", c = ""] = ids;

    server.delete("default", "p0");
    server.delete("default", "p1");
    await barrier(server, source);
    expect(source.lookup(a)?.name).toBe("p0");
    expect(source.lookup(b)?.name).toBe("p1");

    // p0 was just looked up, so it is the recent one: deleting p2 evicts p1.
    expect(source.lookup(a)?.name).toBe("p0");
    server.delete("default", "p2");
    // (Not a poll on lookup(b): each lookup would make p1 recent again.)
    await barrier(server, source);
    expect(source.lookup(b)).toBeUndefined();
    expect(source.lookup(a)?.name).toBe("p0");
    expect(source.lookup(c)?.name).toBe("p2");
  });

  for (const expiredAs of ["event", "http"] as const) {
    it(`relists after 410 Gone (${expiredAs}) and sees what changed while it was away`, async () => {
      const server = await startServer({ expiredAs });
      const gone = randomContainerId();
      const kept = randomContainerId();
      server.put(podObject({ name: "gone", containers: [{ name: "c", id: gone }] }));
      server.put(podObject({ name: "kept", labels: { v: "1" }, containers: [{ name: "c", id: kept }] }));
      const source = await startSource(server);
      expect(lists(server)).toBe(1);

      // An outage long enough for the history to be compacted past the informer's version.
      server.setAvailable(false);
      const added = randomContainerId();
      server.delete("default", "gone");
      server.update("default", "kept", (p) => {
        p.metadata.labels = { v: "2" };
      });
      server.put(podObject({ name: "added", containers: [{ name: "c", id: added }] }));
      server.compact();
      server.setAvailable(true);

      await waitFor(() => source.lookup(added) !== undefined, WAIT_MS, "the pod added during the outage");
      expect(lists(server)).toBe(2);
      expect(source.lookup(kept)?.podLabels).toEqual({ v: "2" });
      // Deleted while we were away: the relist's diff retires it into the deleted cache.
      expect(source.lookup(gone)?.name).toBe("gone");
    });
  }

  it("relists when an open watch is told its version expired", async () => {
    const server = await startServer();
    const source = await startSource(server);
    await waitFor(() => server.watchCount === 1, WAIT_MS, "the watch");
    server.expireWatches();
    await waitFor(() => lists(server) === 2, WAIT_MS, "the relist");
    const id = randomContainerId();
    server.put(podObject({ name: "after", containers: [{ name: "c", id }] }));
    await waitFor(() => source.lookup(id) !== undefined, WAIT_MS, "a pod added after the relist");
  });

  for (const how of ["end", "reset"] as const) {
    it(`catches up from its resourceVersion after a dropped watch (${how}), without relisting`, async () => {
      const server = await startServer();
      const source = await startSource(server);
      const before = randomContainerId();
      server.put(podObject({ name: "before", containers: [{ name: "c", id: before }] }));
      await waitFor(() => source.lookup(before) !== undefined, WAIT_MS, "the first pod");
      const seenRv = server.resourceVersion;

      server.dropWatches(how);
      const after = randomContainerId();
      server.put(podObject({ name: "after", containers: [{ name: "c", id: after }] }));
      await waitFor(() => source.lookup(after) !== undefined, WAIT_MS, "the pod added across the drop");
      expect(lists(server)).toBe(1);
      const rewatch = watches(server).at(-1);
      expect(Number(rewatch?.query.resourceVersion)).toBeGreaterThanOrEqual(seenRv);
    });
  }

  it("advances its resourceVersion on bookmarks, so a reconnect after compaction needs no relist", async () => {
    const server = await startServer();
    await startSource(server);
    await waitFor(() => server.watchCount === 1, WAIT_MS, "the watch");
    const watchedFrom = Number(watches(server)[0]?.query.resourceVersion);
    // Changes this node's watch does not carry: only a bookmark tells the informer about them.
    for (let i = 0; i < 3; i++) server.put(podObject({ name: `far-${i}`, node: "node-b" }));
    server.bookmark();
    const bookmarkRv = server.resourceVersion;
    expect(bookmarkRv).toBeGreaterThan(watchedFrom);
    server.compact();
    server.dropWatches("end");

    await waitFor(() => watches(server).length === 2 && server.watchCount === 1, WAIT_MS, "the rewatch");
    expect(watches(server)[1]?.query.resourceVersion).toBe(String(bookmarkRv));
    expect(lists(server)).toBe(1);
  });

  it("derives workload and kind from owner references as Tetragon does", async () => {
    const server = await startServer();
    const cases: { pod: PodSpec; workload: string; kind: string }[] = [
      {
        pod: {
          name: "web-7d9f8-abcde",
          generateName: "web-7d9f8-",
          labels: { "pod-template-hash": "7d9f8" },
          owner: { kind: "ReplicaSet", name: "web-7d9f8" },
        },
        workload: "web",
        kind: "Deployment",
      },
      // A bare ReplicaSet (no template hash) is its own workload.
      {
        pod: { name: "rs-x1", generateName: "rs-", owner: { kind: "ReplicaSet", name: "rs" } },
        workload: "rs",
        kind: "ReplicaSet",
      },
      {
        pod: { name: "db-0", generateName: "db-", owner: { kind: "StatefulSet", name: "db" } },
        workload: "db",
        kind: "StatefulSet",
      },
      {
        pod: { name: "agent-q2w", generateName: "agent-", owner: { kind: "DaemonSet", name: "agent" } },
        workload: "agent",
        kind: "DaemonSet",
      },
      {
        pod: { name: "migrate-k3j", generateName: "migrate-", owner: { kind: "Job", name: "migrate" } },
        workload: "migrate",
        kind: "Job",
      },
      {
        pod: {
          name: "backup-28599360-x7",
          generateName: "backup-28599360-",
          owner: { kind: "Job", name: "backup-28599360" },
        },
        workload: "backup",
        kind: "CronJob",
      },
      {
        pod: {
          name: "legacy-1-abc",
          generateName: "legacy-1-",
          labels: { deploymentconfig: "legacy" },
          owner: { kind: "ReplicationController", name: "legacy-1" },
        },
        workload: "legacy",
        kind: "DeploymentConfig",
      },
      { pod: { name: "bare" }, workload: "bare", kind: "Pod" },
      // Without a generated name the owner is not consulted (a static pod's mirror, say).
      {
        pod: { name: "static-node-a", owner: { kind: "Node", name: "node-a" } },
        workload: "static-node-a",
        kind: "Pod",
      },
    ];
    const ids = cases.map(({ pod }) => {
      const id = randomContainerId();
      server.put(podObject({ ...pod, containers: [{ name: "c", id }] }));
      return id;
    });
    const source = await startSource(server);
    cases.forEach(({ workload, kind }, i) => {
      expect(source.lookup(ids[i] ?? ""), cases[i]?.pod.name).toMatchObject({ workload, workloadKind: kind });
    });
  });

  it("waits through an unavailable API server at start, retrying", async () => {
    const server = await startServer();
    const id = randomContainerId();
    server.put(podObject({ name: "p", containers: [{ name: "c", id }] }));
    server.setAvailable(false);
    const starting = startSource(server);
    await waitFor(() => lists(server) >= 2, WAIT_MS, "retried lists");
    server.setAvailable(true);
    const source = await starting;
    expect(source.lookup(id)?.name).toBe("p");
  });

  it("rejects with KubernetesApiUnavailableError when no list succeeds in time", async () => {
    const server = await startServer();
    server.setAvailable(false);
    const err = await startSource(server, { startTimeoutMs: 300 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubernetesApiUnavailableError);
    expect(String((err as Error).cause)).toMatch(/Service Unavailable|503/);
    // The failed start stopped retrying.
    const seen = server.requests.length;
    server.setAvailable(true);
    await new Promise((r) => setTimeout(r, 300));
    expect(server.requests.length).toBe(seen);
  });

  it("rejects with KubernetesConfigError without a usable configuration", async () => {
    await expect(
      KubernetesPodInfoSource.start({ kubeconfig: join(scratch, "missing.yaml"), nodeName: NODE }),
    ).rejects.toBeInstanceOf(KubernetesConfigError);
    const saved = process.env.KUBERNETES_SERVICE_HOST;
    delete process.env.KUBERNETES_SERVICE_HOST;
    try {
      await expect(KubernetesPodInfoSource.start({ nodeName: NODE })).rejects.toBeInstanceOf(
        KubernetesConfigError,
      );
    } finally {
      if (saved !== undefined) process.env.KUBERNETES_SERVICE_HOST = saved;
    }
  });

  it("speaks HTTPS with a bearer token from the kubeconfig", async () => {
    const key = join(scratch, "key.pem");
    const cert = join(scratch, "cert.pem");
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        key,
        "-out",
        cert,
        "-days",
        "1",
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
      ],
      { stdio: "ignore" },
    );
    const { readFileSync } = await import("node:fs");
    const tls = { key: readFileSync(key, "utf8"), cert: readFileSync(cert, "utf8") };
    const server = await startServer({ tls, token: "s3cret" });
    const id = randomContainerId();
    server.put(podObject({ name: "tls", containers: [{ name: "c", id }] }));
    const source = await KubernetesPodInfoSource.start({
      kubeconfig: kubeconfigFor(server, { ca: tls.cert, token: "s3cret" }),
      nodeName: NODE,
    });
    open.push(source);
    expect(source.lookup(id)?.name).toBe("tls");
    // The wrong token is refused (401), so start gives up.
    const refused = await KubernetesPodInfoSource.start({
      kubeconfig: kubeconfigFor(server, { ca: tls.cert, token: "wrong" }),
      nodeName: NODE,
      startTimeoutMs: 300,
    }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(KubernetesApiUnavailableError);
  });

  it("close ends its watch and stops reconnecting", async () => {
    const server = await startServer();
    const source = await KubernetesPodInfoSource.start({ kubeconfig: kubeconfigFor(server), nodeName: NODE });
    await waitFor(() => server.watchCount === 1, WAIT_MS, "the watch");
    await source.close();
    await waitFor(() => server.watchCount === 0, WAIT_MS, "the watch to close");
    const seen = server.requests.length;
    await new Promise((r) => setTimeout(r, 200));
    expect(server.requests.length).toBe(seen);
  });
});

/**
 * Adds a marker pod and waits until it resolves: a watch delivers in order, so every change made
 * before it has then been applied.
 */
async function barrier(server: FakeApiServer, source: KubernetesPodInfoSource): Promise<void> {
  const id = randomContainerId();
  server.put(podObject({ name: `marker-${id.slice(0, 8)}`, containers: [{ name: "c", id }] }));
  await waitFor(() => source.lookup(id) !== undefined, WAIT_MS, "the marker pod");
}
