import { spawn } from "node:child_process";
import type { ProcessKprobe } from "@nsguard/sdk";
import { afterAll, beforeAll, describe, expect } from "vitest";
import { type RunningAgent, startAgent } from "../agent.js";
import { collectKprobes, isRoot, kprobeOf, rootIt, waitFor } from "./root-tier.js";
import { PodmanHarness, type RunningContainer } from "./runtimes/podman.js";

/**
 * Workload scopes in the kernel, on real podman containers with pod metadata from podman's API:
 * a TracingPolicyNamespaced, a podSelector (with and without hostSelector {}) and a
 * containerSelector policy, all hooking unshare, beside an unscoped control policy. Each
 * container and a host process call unshare once; the control policy's events show every call
 * was made and read (records of one call are submitted together, in hook order, and delivered
 * in order), so a scoped policy's missing event is one the kernel dropped.
 */
describe.runIf(isRoot || process.env.CI)("workload scopes on podman containers", () => {
  let podman: PodmanHarness;
  let agent: RunningAgent;
  let tag: string;
  const containers: Record<"web" | "other" | "b", RunningContainer> = {} as never;

  const unsharePolicy = (name: string, head: string[], spec: string[] = []) =>
    [
      "apiVersion: cilium.io/v1alpha1",
      ...head,
      "spec:",
      ...spec.map((l) => `  ${l}`),
      "  kprobes:",
      "  - call: sys_unshare",
      "    syscall: true",
      "    args: [{index: 0, type: int}]",
      "",
    ]
      .join("\n")
      .replace("NAME", name);

  beforeAll(async () => {
    podman = await PodmanHarness.start();
    tag = podman.runTag;
    const nsA = `ns-a-${tag}`;
    const nsB = `ns-b-${tag}`;
    await podman.createPod({ name: `web-${tag}`, labels: { app: `web-${tag}` } });
    await podman.createPod({ name: `other-${tag}`, labels: { app: `other-${tag}` } });
    await podman.createPod({ name: `db-${tag}`, labels: { app: `db-${tag}` } });
    const ns = (n: string) => ({ "io.kubernetes.pod.namespace": n });
    containers.web = await podman.run({ name: `web-c-${tag}`, pod: `web-${tag}`, labels: ns(nsA) });
    containers.other = await podman.run({ name: `other-c-${tag}`, pod: `other-${tag}`, labels: ns(nsA) });
    containers.b = await podman.run({ name: `db-c-${tag}`, pod: `db-${tag}`, labels: ns(nsB) });

    agent = await startAgent({
      tracingPolicies: [],
      serverAddress: "127.0.0.1:0",
      serverSocket: "",
      nodeName: "e2e-node",
      eventQueueSize: 1000,
      logLevel: "silent",
      podmanSocket: podman.socketPath,
    });
    const podSelector = `podSelector: {matchLabels: {app: web-${tag}}}`;
    for (const yaml of [
      unsharePolicy("scope-all", ["kind: TracingPolicy", "metadata: {name: NAME}"]),
      unsharePolicy("scope-ns", [
        "kind: TracingPolicyNamespaced",
        `metadata: {name: NAME, namespace: ${nsA}}`,
      ]),
      unsharePolicy("scope-web", ["kind: TracingPolicy", "metadata: {name: NAME}"], [podSelector]),
      unsharePolicy(
        "scope-web-host",
        ["kind: TracingPolicy", "metadata: {name: NAME}"],
        [podSelector, "hostSelector: {}"],
      ),
      unsharePolicy(
        "scope-db-container",
        ["kind: TracingPolicy", "metadata: {name: NAME}"],
        [`containerSelector: {matchExpressions: [{key: name, operator: In, values: [db-c-${tag}]}]}`],
      ),
    ]) {
      await agent.policies.add(yaml, "grpc");
    }
  }, 120_000);

  afterAll(async () => {
    await agent?.stop();
    await podman?.cleanup();
  }, 60_000);

  /** unshare(CLONE_NEWUTS) from a host process; resolves with its pid. */
  const hostUnshare = () =>
    new Promise<number>((resolve, reject) => {
      const child = spawn("unshare", ["-u", "true"], { stdio: "ignore" });
      child.once("error", reject);
      child.once("exit", () => resolve(child.pid ?? 0));
    });

  /** Which of the callers each policy reported. */
  function reporters(events: ProcessKprobe[], callers: Record<string, (k: ProcessKprobe) => boolean>) {
    const out: Record<string, string[]> = {};
    for (const k of events) {
      const who = Object.entries(callers).find(([, is]) => is(k))?.[0];
      if (!who) continue;
      const list = out[k.policyName] ?? [];
      if (!list.includes(who)) list.push(who);
      out[k.policyName] = list.sort();
    }
    return out;
  }

  const inContainer = (c: RunningContainer) => (k: ProcessKprobe) =>
    k.process?.docker === c.id.slice(0, 31) && (k.process.binary.endsWith("/unshare") ?? false);

  rootIt(
    "each policy reports unshare only from the workloads it selects",
    async () => {
      const abort = new AbortController();
      const events = await collectKprobes(
        agent,
        { policyNames: ["scope-all", "scope-ns", "scope-web", "scope-web-host", "scope-db-container"] },
        abort.signal,
      );
      for (const c of Object.values(containers)) {
        // Unprivileged: unshare fails with EPERM, but the call is made and hooked at entry.
        await podman.exec(c.name, ["unshare", "-u", "true"]);
      }
      const hostPid = await hostUnshare();
      const callers = {
        web: inContainer(containers.web),
        other: inContainer(containers.other),
        b: inContainer(containers.b),
        host: (k: ProcessKprobe) => k.process?.pid === hostPid,
      };
      const seen = () => reporters(events.map(kprobeOf), callers);
      await waitFor(() => seen()["scope-all"]?.length === 4, 15_000, "the control policy's four events");
      abort.abort();
      expect(seen()).toStrictEqual({
        "scope-all": ["b", "host", "other", "web"],
        "scope-ns": ["other", "web"],
        "scope-web": ["web"],
        "scope-web-host": ["host", "web"],
        "scope-db-container": ["b"],
      });
      // What the pod metadata says about the caller the namespaced policy reported.
      const nsEvent = events.map(kprobeOf).find((k) => k.policyName === "scope-ns" && callers.web(k));
      expect(nsEvent?.process?.pod?.namespace).toBe(`ns-a-${tag}`);
    },
    90_000,
  );

  rootIt(
    "a container started after the policies is put in scope (first exec or podman's event)",
    async () => {
      const late = await podman.run({
        name: `late-c-${tag}`,
        pod: `other-${tag}`,
        labels: { "io.kubernetes.pod.namespace": `ns-a-${tag}` },
      });
      const abort = new AbortController();
      const events = await collectKprobes(
        agent,
        { policyNames: ["scope-all", "scope-ns", "scope-web"] },
        abort.signal,
      );
      const isLate = inContainer(late);
      const reported = (policy: string) =>
        events.map(kprobeOf).filter((k) => k.policyName === policy && isLate(k));
      // The agent learns the container asynchronously: call until the namespaced policy reports it.
      const deadline = Date.now() + 20_000;
      while (reported("scope-ns").length === 0 && Date.now() < deadline) {
        await podman.exec(late.name, ["unshare", "-u", "true"]);
        await waitFor(() => reported("scope-all").length > 0, 10_000, "the control policy's event").catch(
          () => undefined,
        );
        await new Promise((r) => setTimeout(r, 100));
      }
      abort.abort();
      expect(reported("scope-ns").length).toBeGreaterThan(0);
      // Its pod does not carry the web label.
      expect(reported("scope-web")).toStrictEqual([]);
    },
    90_000,
  );
});
