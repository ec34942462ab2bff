import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect } from "vitest";
import { FakeApiServer } from "../container/kubernetes/testing/fake-apiserver.js";
import { SimulatedContainer, startHostAnchor } from "../sim/simulated-container.js";
import {
  collectKprobes,
  isRoot,
  kprobeOf,
  randomContainerId,
  rootIt,
  startExampleAgent,
  waitFor,
} from "./root-tier.js";

const NODE = "e2e-k8s-node";

// The agent with --enable-k8s-api against the local list/watch server (no Kubernetes API server
// runs here): a process in a container whose id the API reports gets that pod on its events.
describe.runIf(isRoot || process.env.CI)("pod metadata from the Kubernetes API (root tier)", () => {
  let dir: string;
  let anchor: ReturnType<typeof startHostAnchor>;
  let server: FakeApiServer;
  const containerId = randomContainerId();
  const lateId = randomContainerId();
  const podWith = (name: string, id: string) => ({
    metadata: {
      name,
      generateName: "xwing-5c8d7-",
      namespace: "rebels",
      labels: { app: "xwing", "pod-template-hash": "5c8d7" },
      ownerReferences: [
        { apiVersion: "apps/v1", kind: "ReplicaSet", name: "xwing-5c8d7", uid: "rs", controller: true },
      ],
    },
    spec: { nodeName: NODE, containers: [{ name: "spaceship", image: "localhost/bb:latest" }] },
    status: {
      phase: "Running",
      containerStatuses: [
        {
          name: "spaceship",
          containerID: `containerd://${id}`,
          image: "localhost/bb:latest",
          imageID: "localhost/bb@sha256:0000",
          state: { running: { startedAt: "2026-01-28T08:51:07Z" } },
        },
      ],
    },
  });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "nsguard-e2e-k8s-"));
    anchor = startHostAnchor();
    server = await FakeApiServer.start();
    server.put(podWith("xwing-5c8d7-q2x9z", containerId));
    writeFileSync(
      join(dir, "kubeconfig"),
      JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "fake", cluster: { server: server.url, "insecure-skip-tls-verify": true } }],
        users: [{ name: "agent", user: {} }],
        contexts: [{ name: "fake", context: { cluster: "fake", user: "agent" } }],
        "current-context": "fake",
      }),
    );
  });
  afterAll(async () => {
    anchor?.stop();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  rootIt(
    "stamps the pod the API reports on a container's setns events",
    async () => {
      const agent = await startExampleAgent("namespace-access.yaml", {
        nodeName: NODE,
        kubernetes: { kubeconfig: join(dir, "kubeconfig") },
      });
      try {
        expect(server.requests[0]?.query.fieldSelector).toBe(`spec.nodeName=${NODE}`);
        const abort = new AbortController();
        const events = await collectKprobes(agent, { policyNames: ["namespace-access"] }, abort.signal);
        const container = new SimulatedContainer({ id: containerId, hostname: "xwing" });
        const result = await container
          .run(`nsenter -t ${anchor.pid} -m -u -n -i true; echo rc=$?`)
          .finally(() => container.remove());
        expect(result.stdout).toContain("rc=0");
        const mine = () => events.filter((ev) => kprobeOf(ev).process?.docker === containerId.slice(0, 31));
        await waitFor(() => mine().length >= 4, 5000, "the setns events of nsenter");
        abort.abort();
        for (const ev of mine()) {
          const pod = kprobeOf(ev).process?.pod;
          expect(pod).toMatchObject({
            namespace: "rebels",
            name: "xwing-5c8d7-q2x9z",
            podLabels: { app: "xwing", "pod-template-hash": "5c8d7" },
            workload: "xwing",
            workloadKind: "Deployment",
            container: {
              id: `containerd://${containerId}`,
              name: "spaceship",
              image: { id: "localhost/bb@sha256:0000", name: "localhost/bb:latest" },
            },
          });
          expect(pod?.uid).toMatch(/^uid-/);
        }
      } finally {
        await agent.stop();
      }
      // stop closed the watch.
      await waitFor(() => server.watchCount === 0, 5000, "the agent's watch to close");
    },
    30_000,
  );

  rootIt(
    "events that arrive before their pod is known wait in the event cache and leave with the pod",
    async () => {
      const agent = await startExampleAgent("namespace-access.yaml", {
        nodeName: NODE,
        kubernetes: { kubeconfig: join(dir, "kubeconfig") },
        metricsServer: "127.0.0.1:0",
      });
      try {
        const abort = new AbortController();
        const events = await collectKprobes(agent, { policyNames: ["namespace-access"] }, abort.signal);
        // The container runs before the API has its pod: the kubelet has not reported it yet.
        const container = new SimulatedContainer({ id: lateId, hostname: "xwing" });
        const result = await container
          .run(`nsenter -t ${anchor.pid} -m -u -n -i true; echo rc=$?`)
          .finally(() => container.remove());
        expect(result.stdout).toContain("rc=0");
        const mine = () => events.filter((ev) => kprobeOf(ev).process?.docker === lateId.slice(0, 31));
        const metric = async (outcome: string) => {
          const text = await (await fetch(agent.metricsUrl as string)).text();
          return Number(
            new RegExp(`nsguard_event_cache_events_total\\{outcome="${outcome}"\\} (\\d+)`).exec(text)?.[1],
          );
        };
        const held = async () => {
          const text = await (await fetch(agent.metricsUrl as string)).text();
          return Number(/nsguard_event_cache_entries (\d+)/.exec(text)?.[1]);
        };
        // Held, not sent without the pod.
        let waiting = 0;
        for (let i = 0; i < 50 && waiting < 4; i++) {
          waiting = await held();
          await new Promise((r) => setTimeout(r, 20));
        }
        expect(waiting).toBeGreaterThanOrEqual(4);
        expect(mine()).toEqual([]);

        server.put(podWith("xwing-5c8d7-late1", lateId));
        await waitFor(() => mine().length >= 4, 5000, "the held setns events");
        abort.abort();
        for (const ev of mine()) {
          expect(kprobeOf(ev).process?.pod).toMatchObject({
            name: "xwing-5c8d7-late1",
            workloadKind: "Deployment",
          });
        }
        expect(await metric("resolved")).toBeGreaterThanOrEqual(4);
        expect(await metric("timeout")).toBe(0);
      } finally {
        await agent.stop();
      }
    },
    30_000,
  );
});
