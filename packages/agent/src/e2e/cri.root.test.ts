import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, readlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import {
  type GetEventsResponse,
  NamespaceDirection,
  PodSchema,
  type ProcessKprobe,
  toCompact,
} from "@nsguard/sdk";
import { afterAll, beforeAll, describe, expect } from "vitest";
import { startHostAnchor } from "../sim/simulated-container.js";
import { collectKprobes, isRoot, kprobeOf, rootIt, startExampleAgent, waitFor } from "./root-tier.js";
import { BUSYBOX_IMAGE, TestContainerd } from "./runtimes/containerd.js";

const SEED_LABELS = { "app.kubernetes.io/name": "xwing", class: "xwing", org: "alliance" };
const NET = 0x40000000;
const MNT = 0x20000;
const UTS = 0x4000000;

describe.runIf(isRoot || process.env.CI)("agent with --cri-endpoint on a real containerd (root tier)", () => {
  let containerd: TestContainerd;
  let anchor: ReturnType<typeof startHostAnchor>;
  let spaceship: string;
  let tiefighter: string;
  const uid = randomUUID();
  const tieUid = randomUUID();

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
    // An ordinary pod: its own pid namespace, so its processes have an in-container pid.
    const tiePod = await containerd.runPod({
      name: "tiefighter",
      namespace: "empire",
      uid: tieUid,
      labels: SEED_LABELS,
    });
    tiefighter = await containerd.createContainer(tiePod, {
      name: "pilot",
      command: ["/bin/sleep", "infinity"],
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
        "-m",
        "-u",
        "-n",
        "true",
      ]);
      expect(result).toMatchObject({ exitCode: 0, stderr: "" });

      const ours = () => events.filter((ev) => kprobeOf(ev).process?.docker === spaceship.slice(0, 31));
      await waitFor(() => ours().length >= 3, 5000, "nsenter's three setns events");
      abort.abort();

      // The harness's pods use the node's network (no CNI), and a host-network pod shares the
      // node's uts namespace too: entering those changes nothing, while the container's own mount
      // namespace is left for the host's — the escape.
      const byKind = new Map(ours().map((ev) => [kprobeOf(ev).args[1]?.arg.value, ev]));
      const verdict = (nstype: number) => kprobeOf(byKind.get(nstype)).namespaceChanges;
      expect(verdict(MNT)?.changes.map((c) => c.direction)).toEqual([NamespaceDirection.CONTAINER_TO_HOST]);
      expect(verdict(UTS)?.changes.map((c) => c.direction)).toEqual([NamespaceDirection.UNCHANGED]);
      expect(verdict(NET)?.changes.map((c) => c.direction)).toEqual([NamespaceDirection.UNCHANGED]);
      expect([verdict(MNT)?.escape, verdict(UTS)?.escape, verdict(NET)?.escape]).toEqual([
        true,
        false,
        false,
      ]);
      expect(toCompact(byKind.get(MNT) as GetEventsResponse)).toBe(
        "🔧 setns   default/xwing /bin/nsenter mnt → host",
      );
      const setns = kprobeOf(byKind.get(NET));
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

  rootIt(
    "a pod's own process: every field of the seed's pod block, by value, and the runtime's exec setns calls say host → container",
    async () => {
      const agent = await startExampleAgent("namespace-access.yaml", { criEndpoint: containerd.socketPath });
      try {
        const abort = new AbortController();
        const events = await collectKprobes(agent, { policyNames: ["namespace-access"] }, abort.signal);
        // nsenter into the pod's own init's uts namespace: a setns that changes nothing.
        // Unprivileged, so the kernel refuses the setns (EPERM) — after nsguard saw the call.
        const result = await containerd.execSync(tiefighter, ["nsenter", "-t", "1", "-u", "true"]);
        expect(result.stderr).toMatch(/Operation not permitted/);
        const pilot = () => events.map(kprobeOf).filter((k) => k.process?.docker === tiefighter.slice(0, 31));
        await waitFor(() => pilot().length >= 1, 5000, "nsenter's setns in the pilot container");
        // The container's namespaces, read from its init (the one process of its cgroup, which
        // containerd names <cgroup_parent>/<id>): what runc's exec joins.
        const procs = `/sys/fs/cgroup/memory${containerd.cgroupParent}/pod${tieUid}/${tiefighter}/cgroup.procs`;
        const init = Number(readFileSync(procs, "utf8").split("\n")[0]);
        // Only the kinds the pod does not share with the node (its network and uts are the node's).
        const inum = (pid: number | "self", kind: string) =>
          Number(/\[(\d+)\]/.exec(readlinkSync(`/proc/${pid}/ns/${kind}`))?.[1]);
        const inums = new Set(
          ["ipc", "uts", "net", "mnt", "pid"]
            .filter((kind) => inum(init, kind) !== inum("self", kind))
            .map((kind) => inum(init, kind)),
        );
        const runtime = (): ProcessKprobe[] =>
          events
            .map(kprobeOf)
            .filter(
              (k) =>
                (k.namespaceChanges?.changes ?? []).some((c) => inums.has(c.after)) &&
                k.process?.docker === "",
            );
        await waitFor(() => runtime().length >= 2, 5000, "runc's setns events of the exec");
        abort.abort();

        const [k] = pilot();
        expect(k?.namespaceChanges?.changes.map((c) => c.direction)).toEqual([NamespaceDirection.UNCHANGED]);
        expect(k?.namespaceChanges?.escape).toBe(false);
        const { status } = await containerd.cri.containerStatus({ containerId: tiefighter });
        const nspid = k?.process?.pod?.container?.pid;
        expect(nspid).toBeGreaterThan(1); // nsenter's pid in the pod's pid namespace
        expect(k?.process?.pod).toEqual(
          create(PodSchema, {
            namespace: "empire",
            name: "tiefighter",
            uid: tieUid,
            container: {
              id: `containerd://${tiefighter}`,
              name: "pilot",
              image: { id: containerd.imageRef, name: BUSYBOX_IMAGE },
              startTime: { seconds: (status?.startedAt ?? 0n) / 1_000_000_000n, nanos: 0 },
              pid: nspid,
            },
            podLabels: SEED_LABELS,
            workload: "tiefighter",
            workloadKind: "Pod",
          }),
        );
        for (const r of runtime()) {
          expect(r.namespaceChanges?.escape).toBe(false);
          for (const c of r.namespaceChanges?.changes ?? [])
            expect(c.direction).toBe(NamespaceDirection.HOST_TO_CONTAINER);
        }
      } finally {
        await agent.stop();
      }
    },
  );

  rootIt("an unreachable CRI endpoint fails the agent's start with one clear error", async () => {
    await expect(
      startExampleAgent("namespace-access.yaml", { criEndpoint: join(containerd.dir, "absent.sock") }),
    ).rejects.toThrow(/^CRI Version at .*absent\.sock: /);
  });
});
