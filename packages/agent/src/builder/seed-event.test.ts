import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, toJson } from "@bufbuild/protobuf";
import { GetEventsResponseSchema, PodSchema } from "@nsguard/sdk";
import { afterAll, describe, expect, it } from "vitest";
import { BootClock } from "../clock.js";
import { StaticPodInfoSource } from "../container/pod-info.js";
import { ProcessFlag } from "../process/flags.js";
import { ProcessCache } from "../process/process-cache.js";
import type { CloneInput, ExecInput, NamespaceInums, TaskInput } from "../process/raw-input.js";
import { syscallInput } from "../testing/syscall-input.js";
import { buildKprobeEvent, type KprobeHookSpec } from "./event-builder.js";

/**
 * The event of Tetragon's "Namespace access monitoring" page (spec/seed-namespace-access.md),
 * verbatim. Rebuilding it from kernel-shaped records through the real cache and builder is the
 * end-to-end check that our output is Tetragon's.
 */
const SEED = JSON.parse(
  readFileSync(new URL("../../../../examples/seed-event.json", import.meta.url), "utf8"),
);

const NODE = "tetragon-dev-control-plane";
const CONTAINER_ID = "057dc8d712abf96c628c82ea111d53a205a256b0dc39bb31284426aaf378acbc";
// containerd with the systemd cgroup driver: the kernel reports only this last path component.
const CGROUP_NAME = `cri-containerd-${CONTAINER_ID}.scope`;

const HOST_NS: NamespaceInums = {
  uts: 4026531838,
  ipc: 4026531839,
  mnt: 4026531832,
  pid: 4026531836,
  pidForChildren: 4026531836,
  net: 4026531833,
  time: 4026531834,
  timeForChildren: 4026531834,
  cgroup: 4026531835,
  user: 4026531837,
};
const CONTAINER_NS: NamespaceInums = {
  ...HOST_NS,
  uts: 4026532178,
  ipc: 4026532179,
  mnt: 4026532177,
  pid: 4026532180,
  pidForChildren: 4026532180,
  net: 4026532181,
};

const wallNs = (iso: string, nanos: bigint) => BigInt(Date.parse(iso)) * 1_000_000n + nanos;
/** A clock whose offset puts `ktime` at `iso` + `nanos`. */
const clockAt = (ktime: bigint, iso: string, nanos: bigint) => new BootClock(wallNs(iso, nanos) - ktime);

function task(pid: number, ktime: bigint, ppid: number, nspid: number, ns: NamespaceInums): TaskInput {
  return { key: { pid, ktime }, pid, tid: pid, ppid, nspid, uid: 0, euid: 0, auid: 4294967295, ns };
}

const EXEC_FLAGS = ProcessFlag.EXECVE | ProcessFlag.CLONE | ProcessFlag.ROOT_CWD;

const xwing = create(PodSchema, {
  namespace: "default",
  name: "xwing",
  container: {
    id: `containerd://${CONTAINER_ID}`,
    name: "spaceship",
    image: {
      id: "quay.io/cilium/json-mock@sha256:5aad04835eda9025fe4561ad31be77fd55309af8158ca8663a72f6abb78c2603",
      name: "quay.io/cilium/json-mock:latest",
    },
    startTime: { seconds: BigInt(Date.parse("2026-01-28T08:51:07Z") / 1000), nanos: 0 },
  },
  podLabels: { "app.kubernetes.io/name": "xwing", class: "xwing", org: "alliance" },
  workload: "xwing",
  workloadKind: "Pod",
});

const emptyProc = mkdtempSync(join(tmpdir(), "nsguard-noproc-"));
afterAll(() => rmSync(emptyProc, { recursive: true, force: true }));

describe("the seed event", () => {
  it("is reproduced exactly from kernel records: kubectl exec bash → nsenter → setns", () => {
    // Tetragon converts each ktime to wall time when it handles it, so the seed's two start
    // times imply offsets 79 ns apart; the cache takes a fresh clock the same way.
    const bashClock = clockAt(116977729907351n, "2026-01-30T18:15:19Z", 810100966n);
    const nsenterClock = clockAt(116977905434201n, "2026-01-30T18:15:19Z", 985627895n);
    const cache = new ProcessCache({
      nodeName: NODE,
      clock: bashClock,
      podInfo: new StaticPodInfoSource([xwing]),
      procRoot: emptyProc, // no /proc fallback: everything must come from the records
    });

    // containerd-shim (host pid 7211), known to the kernel since boot + 88.36 s.
    const shim: ExecInput = {
      ktime: 88364674028n,
      task: task(7211, 88364674028n, 1, 0, HOST_NS),
      parent: { pid: 1, ktime: 0n },
      flags: EXEC_FLAGS,
      filename: "/usr/bin/containerd-shim-runc-v2",
      args: ["-namespace", "k8s.io", "-id", "4ba1"],
      cwd: "/",
      cgroupName: "",
    };
    cache.upsertFromExec(shim);

    // kubectl exec: the shim forks, the child execs /bin/bash inside the container (nspid 31).
    const bashFork: CloneInput = {
      ktime: 116977729000000n,
      task: task(63052, 116977729000000n, 7211, 31, CONTAINER_NS),
      parent: { pid: 7211, ktime: 88364674028n },
    };
    cache.upsertFromClone(bashFork);
    const bashExec: ExecInput = {
      ktime: 116977729907351n,
      task: task(63052, 116977729907351n, 7211, 31, CONTAINER_NS),
      parent: { pid: 7211, ktime: 88364674028n },
      flags: EXEC_FLAGS,
      filename: "/bin/bash",
      args: [],
      cwd: "/",
      cgroupName: CGROUP_NAME,
    };
    cache.upsertFromExec(bashExec);

    // bash forks and execs nsenter (nspid 37).
    cache.setClock(nsenterClock);
    cache.upsertFromClone({
      ktime: 116977904000000n,
      task: task(63066, 116977904000000n, 63052, 37, CONTAINER_NS),
      parent: { pid: 63052, ktime: 116977729907351n },
    });
    cache.upsertFromExec({
      ktime: 116977905434201n,
      task: task(63066, 116977905434201n, 63052, 37, CONTAINER_NS),
      parent: { pid: 63052, ktime: 116977729907351n },
      flags: EXEC_FLAGS,
      filename: "/usr/bin/nsenter",
      args: ["-t", "1", "-m", "-u", "-n", "-i", "-p"],
      cwd: "/",
      cgroupName: CGROUP_NAME,
    });

    // nsenter's setns(3, CLONE_NEWIPC), 15.41 ms after its exec.
    const setns = syscallInput({
      ktime: 116977920849134n,
      task: task(63066, 116977905434201n, 63052, 37, CONTAINER_NS),
      action: 1,
      args: [3n, 0x8000000n, 0n, 0n, 0n, 0n],
    });
    const hook: KprobeHookSpec = {
      functionName: "__x64_sys_setns",
      policyName: "namespace-access",
      args: [
        { index: 0, kind: "int_arg" },
        { index: 1, kind: "int_arg" },
      ],
      tags: [],
    };
    const event = buildKprobeEvent(setns, hook, cache, { nodeName: NODE, clock: nsenterClock });

    // The one difference from the seed is deliberate: Tetragon's process cache sets in_init_tree
    // on every process, true or false (pkg/process/process.go initProcessInternalExec/Clone), and
    // as a BoolValue protojson prints false too; the docs page's example leaves it out
    // (tetragon-reference §3.6). kubectl exec's bash and the nsenter it starts were injected
    // into the container, outside its init's tree: false on both. Everything else is verbatim.
    const json = toJson(GetEventsResponseSchema, event, { useProtoFieldName: true }) as typeof SEED;
    expect(json.process_kprobe.process.in_init_tree).toBe(false);
    expect(json.process_kprobe.parent.in_init_tree).toBe(false);
    delete json.process_kprobe.process.in_init_tree;
    delete json.process_kprobe.parent.in_init_tree;
    expect(json).toStrictEqual(SEED);
  });
});
