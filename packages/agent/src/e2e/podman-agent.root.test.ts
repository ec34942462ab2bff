import { readlinkSync } from "node:fs";
import {
  type GetEventsResponse,
  KprobeAction,
  NamespaceDirection,
  type ProcessKprobe,
  toCompact,
} from "@nsguard/sdk";
import { afterAll, beforeAll, describe, expect } from "vitest";
import { startHostAnchor } from "../sim/simulated-container.js";
import { collectKprobes, isRoot, kprobeOf, rootIt, startExampleAgent, waitFor } from "./root-tier.js";
import { PODMAN_TEST_IMAGE, PodmanHarness, type RunningContainer } from "./runtimes/podman.js";

const NSTYPE = { mnt: 0x20000, uts: 0x4000000, ipc: 0x8000000, net: 0x40000000 };
const LABELS = { app: "xwing", class: "xwing", org: "alliance" };

/**
 * The seed scenario on a real runtime: a privileged `--pid host` container in a podman pod runs
 * nsenter into a host process's namespaces; the agent, reading pod metadata from podman's API,
 * reports each setns with the pod block podman knows.
 */
describe.runIf(isRoot || process.env.CI)("escape from a podman pod, pod metadata from podman", () => {
  let podman: PodmanHarness;
  let anchor: ReturnType<typeof startHostAnchor>;
  let esc: RunningContainer;
  let app: RunningContainer;

  beforeAll(async () => {
    anchor = startHostAnchor();
    podman = await PodmanHarness.start();
    await podman.createPod({ name: "xwing", labels: LABELS });
    esc = await podman.run({
      name: "xwing-esc",
      pod: "xwing",
      labels: { app: "xwing", "io.kubernetes.pod.namespace": "default" },
      privileged: true,
      pidHost: true,
    });
    // An ordinary container of the pod, for the runtime's own setns calls on `podman exec`.
    app = await podman.run({
      name: "xwing-app",
      pod: "xwing",
      labels: { app: "xwing", "io.kubernetes.pod.namespace": "default" },
    });
  }, 60_000);

  afterAll(async () => {
    anchor?.stop();
    await podman?.cleanup();
  }, 60_000);

  rootIt(
    "setns events of nsenter carry the pod, container and image from podman",
    async () => {
      const agent = await startExampleAgent("namespace-access.yaml", {
        serverSocket: "",
        podmanSocket: podman.socketPath,
      });
      try {
        const abort = new AbortController();
        const events = await collectKprobes(agent, { policyNames: ["namespace-access"] }, abort.signal);
        const result = await podman.exec("xwing-esc", [
          "nsenter",
          "-t",
          String(anchor.pid),
          "-m",
          "-u",
          "-n",
          "-i",
          "true",
        ]);
        expect(result).toMatchObject({ code: 0, stderr: "" });

        // runc's own setns calls on exec run in the host's root cgroup: only nsenter's are the container's.
        const mine = () =>
          events
            .map(kprobeOf)
            .filter(
              (k) => k.process?.docker === esc.id.slice(0, 31) && k.process.binary.endsWith("/nsenter"),
            );
        await waitFor(() => mine().length >= 4, 10_000, "four setns events from nsenter in xwing-esc");
        abort.abort();

        const digest = (
          await podman.podman(["image", "inspect", "-f", "{{.Digest}}", PODMAN_TEST_IMAGE])
        ).trim();
        const kprobes = mine();
        expect(kprobes.map((k) => k.args[1]?.arg.value).sort()).toEqual(
          [NSTYPE.mnt, NSTYPE.uts, NSTYPE.ipc, NSTYPE.net].sort(),
        );
        // The kernel's verdict: each kind leaves the container's namespace for the host's.
        for (const k of kprobes) {
          expect(k.namespaceChanges?.escape).toBe(true);
          expect(k.namespaceChanges?.changes.map((c) => [c.direction, c.toHost, c.fromHost])).toEqual([
            [NamespaceDirection.CONTAINER_TO_HOST, true, false],
          ]);
        }
        const lines = events
          .filter((ev) => kprobes.includes(kprobeOf(ev)))
          .map((ev) => toCompact(ev as GetEventsResponse))
          .sort();
        expect(lines).toEqual(
          ["ipc", "mnt", "net", "uts"].map((kind) => `🔧 setns   default/xwing /bin/nsenter ${kind} → host`),
        );
        for (const k of kprobes) {
          expect(k.action).toBe(KprobeAction.POST);
          const pod = k.process?.pod;
          expect(pod?.name).toBe("xwing");
          expect(pod?.namespace).toBe("default");
          expect(pod?.podLabels).toStrictEqual(LABELS);
          expect([pod?.workload, pod?.workloadKind]).toStrictEqual(["xwing", "Pod"]);
          expect(pod?.container?.id).toBe(`podman://${esc.id}`);
          expect(pod?.container?.name).toBe("xwing-esc");
          expect(pod?.container?.image?.name).toBe(PODMAN_TEST_IMAGE);
          expect(pod?.container?.image?.id).toBe(`localhost/nsguard-bb@${digest}`);
          expect(pod?.container?.startTime).toBeDefined();
          expect(pod?.container?.securityContext?.privileged).toBe(true);
        }
      } finally {
        await agent.stop();
      }
    },
    90_000,
  );

  rootIt(
    "podman exec: the runtime's setns calls into the container say host → container and are not flagged",
    async () => {
      const agent = await startExampleAgent("namespace-access.yaml", {
        serverSocket: "",
        podmanSocket: podman.socketPath,
      });
      try {
        const abort = new AbortController();
        const events = await collectKprobes(agent, { policyNames: ["namespace-access"] }, abort.signal);
        expect(await podman.exec("xwing-app", ["true"])).toMatchObject({ code: 0 });
        // The container's own namespaces: what runc's exec joins.
        const inums = new Set(
          ["ipc", "uts", "net", "mnt", "pid"].map((kind) =>
            Number(/\[(\d+)\]/.exec(readlinkSync(`/proc/${app.pid}/ns/${kind}`))?.[1]),
          ),
        );
        const intoApp = (): ProcessKprobe[] =>
          events
            .map(kprobeOf)
            .filter((k) => (k.namespaceChanges?.changes ?? []).some((c) => inums.has(c.after)));
        await waitFor(() => intoApp().length >= 3, 10_000, "runc's setns events into xwing-app");
        abort.abort();
        for (const k of intoApp()) {
          expect(k.namespaceChanges?.escape).toBe(false);
          for (const change of k.namespaceChanges?.changes ?? []) {
            expect(change.direction).toBe(NamespaceDirection.HOST_TO_CONTAINER);
          }
          // runc runs on the host, in no container.
          expect(k.process?.docker).toBe("");
        }
      } finally {
        await agent.stop();
      }
    },
    90_000,
  );
});
