import { KprobeAction } from "@nsguard/sdk";
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
});
