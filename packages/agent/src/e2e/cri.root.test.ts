import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { PodSchema } from "@nsguard/sdk";
import { afterAll, beforeAll, describe, expect } from "vitest";
import { startHostAnchor } from "../sim/simulated-container.js";
import { collectKprobes, isRoot, kprobeOf, rootIt, startExampleAgent, waitFor } from "./root-tier.js";
import { BUSYBOX_IMAGE, TestContainerd } from "./runtimes/containerd.js";

const SEED_LABELS = { "app.kubernetes.io/name": "xwing", class: "xwing", org: "alliance" };
const NET = 0x40000000;

describe.runIf(isRoot || process.env.CI)("agent with --cri-endpoint on a real containerd (root tier)", () => {
  let containerd: TestContainerd;
  let anchor: ReturnType<typeof startHostAnchor>;
  let spaceship: string;
  const uid = randomUUID();

  beforeAll(async () => {
    anchor = startHostAnchor();
    containerd = await TestContainerd.start(mkdtempSync(join(tmpdir(), "nsguard-cri-agent-")));
    // The seed's xwing, made able to escape: privileged, in the node's pid namespace.
    const sandbox = await containerd.runPod({
      name: "xwing",
      namespace: "default",
      uid,
      labels: SEED_LABELS,
      privileged: true,
      hostPid: true,
    });
    spaceship = await containerd.createContainer(sandbox, {
      name: "spaceship",
      command: ["/bin/sleep", "infinity"],
      privileged: true,
    });
  }, 60_000);

  afterAll(async () => {
    anchor?.stop();
    await containerd?.stop();
  });

  rootIt("a setns escape through CRI ExecSync carries the pod block the CRI reports", async () => {
    const agent = await startExampleAgent("namespace-access.yaml", { criEndpoint: containerd.socketPath });
    try {
      const abort = new AbortController();
      const events = await collectKprobes(agent, { policyNames: ["namespace-access"] }, abort.signal);
      const result = await containerd.execSync(spaceship, [
        "nsenter",
        "-t",
        String(anchor.pid),
        "-n",
        "true",
      ]);
      expect(result).toMatchObject({ exitCode: 0, stderr: "" });

      const ours = () => events.filter((ev) => kprobeOf(ev).process?.docker === spaceship.slice(0, 31));
      await waitFor(
        () => ours().some((ev) => kprobeOf(ev).args[1]?.arg.value === NET),
        5000,
        "the setns event",
      );
      abort.abort();

      const setns = ours()
        .map(kprobeOf)
        .find((k) => k.args[1]?.arg.value === NET);
      expect(setns?.process?.binary).toMatch(/nsenter$/);
      const { status } = await containerd.cri.containerStatus({ containerId: spaceship });
      expect(setns?.process?.pod).toEqual(
        create(PodSchema, {
          namespace: "default",
          name: "xwing",
          uid,
          container: {
            id: `containerd://${spaceship}`,
            name: "spaceship",
            image: { id: containerd.imageRef, name: BUSYBOX_IMAGE },
            startTime: { seconds: (status?.startedAt ?? 0n) / 1_000_000_000n, nanos: 0 },
            // hostPID: the process is in the node's pid namespace, so there is no in-container pid.
          },
          podLabels: SEED_LABELS,
          workload: "xwing",
          workloadKind: "Pod",
        }),
      );
    } finally {
      await agent.stop();
    }
  });

  rootIt("an unreachable CRI endpoint fails the agent's start with one clear error", async () => {
    await expect(
      startExampleAgent("namespace-access.yaml", { criEndpoint: join(containerd.dir, "absent.sock") }),
    ).rejects.toThrow(/^CRI Version at .*absent\.sock: /);
  });
});
