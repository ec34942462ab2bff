import { mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { NSGUARD_SCOPE_ALL_CONTAINERS, NSGUARD_SCOPE_HOST_CGROUP } from "@nsguard/kernel-contract";
import type { WorkloadScope } from "@nsguard/policy";
import { type Pod, PodSchema } from "@nsguard/sdk";
import { throttleConstants } from "@nsguard/sensor";
import { afterEach, describe, expect, it } from "vitest";
import { StaticPodInfoSource } from "../container/pod-info.js";
import { type ContainerCgroup, scanContainerCgroups } from "./container-cgroups.js";
import { ScopeMaintainer, type ScopeMap, workloadOf } from "./scope-maintainer.js";

const ALL_CONTAINERS = NSGUARD_SCOPE_ALL_CONTAINERS;
const HOST_CGROUP = NSGUARD_SCOPE_HOST_CGROUP;
const id = (c: string) => c.repeat(64);

function pod(containerId: string, namespace: string, labels: Record<string, string>, name = "app"): Pod {
  return create(PodSchema, {
    namespace,
    name: `pod-${containerId.slice(0, 4)}`,
    podLabels: labels,
    container: {
      id: `podman://${containerId}`,
      name,
      image: { id: "docker.io/library/nginx@sha256:0123", name: "docker.io/library/nginx:1.27" },
    },
  });
}

/** The map's contents as `scope/cgroup` strings (what the kernel would hold). */
class RecordedMap implements ScopeMap {
  readonly entries = new Set<string>();
  setScopeCgroup(scopeId: number, cgroupId: bigint, member: boolean): boolean {
    const key = `${scopeId}/${cgroupId}`;
    const had = this.entries.has(key);
    if (member) this.entries.add(key);
    else this.entries.delete(key);
    return had !== member;
  }
  of(scopeId: number): bigint[] {
    return [...this.entries]
      .filter((e) => e.startsWith(`${scopeId}/`))
      .map((e) => BigInt(e.slice(e.indexOf("/") + 1)))
      .sort();
  }
}

function setup(cgroups: ContainerCgroup[], pods: Pod[], podInfo = new StaticPodInfoSource(pods)) {
  const map = new RecordedMap();
  const present = [...cgroups];
  const scopes = new ScopeMaintainer({ map, podInfo, scan: () => present });
  scopes.resync();
  return { map, scopes, present, podInfo };
}

const inA = { cgroupId: 101n, containerId: id("a") };
const inB = { cgroupId: 102n, containerId: id("b") };
const podA = pod(id("a"), "ns-a", { app: "web" });
const podB = pod(id("b"), "ns-b", { app: "db" });
const namespaceA: WorkloadScope = { namespace: "ns-a", includeHost: false };

describe("ScopeMaintainer", () => {
  it("fills a new scope with the matching containers, and ALL_CONTAINERS with every pod container", () => {
    const { map, scopes } = setup([inA, inB], [podA, podB]);
    const a = scopes.addScope(namespaceA);
    const web = scopes.addScope({ podSelector: { matchLabels: { app: "web" } }, includeHost: true });
    const db = scopes.addScope({ containerSelector: { matchLabels: { name: "other" } }, includeHost: false });
    expect(map.of(a)).toStrictEqual([101n]);
    expect(map.of(web)).toStrictEqual([101n, HOST_CGROUP]);
    expect(map.of(db)).toStrictEqual([]);
    expect(map.of(ALL_CONTAINERS)).toStrictEqual([101n, 102n]);
    scopes.removeScope(web);
    expect(map.of(web)).toStrictEqual([]);
    expect(scopes.scopeCount).toBe(2);
  });

  it("puts a container in scope at its first exec, and ignores host cgroups", () => {
    const { map, scopes, podInfo } = setup([], []);
    const a = scopes.addScope(namespaceA);
    podInfo.add(podA);
    scopes.observe(7n, ""); // a host process
    scopes.observe(inA.cgroupId, inA.containerId);
    expect(map.of(a)).toStrictEqual([101n]);
    expect(map.of(ALL_CONTAINERS)).toStrictEqual([101n]);
  });

  it("puts a container in scope when its pod source reports it, before any exec", async () => {
    const { map, scopes, present, podInfo } = setup([], []);
    const a = scopes.addScope(namespaceA);
    present.push(inA); // the runtime made its cgroup
    podInfo.add(podA); // … and the source announces it: one walk finds the cgroup
    await new Promise((r) => setImmediate(r));
    expect(map.of(a)).toStrictEqual([101n]);
    // A label change the source reports is followed at once (no walk needed: the cgroup is known).
    podInfo.add(pod(id("a"), "ns-b", { app: "web" }));
    expect(map.of(a)).toStrictEqual([]);
    scopes.close();
  });

  it("asks the pod sources about a container they do not know, and scopes it once they answer", async () => {
    const late = new StaticPodInfoSource();
    let answer: () => void = () => undefined;
    let asked = 0;
    const podInfo = Object.assign(late, {
      refresh: (containerId: string) =>
        new Promise<void>((resolve) => {
          asked++;
          answer = () => {
            if (containerId === id("a")) late.add(podA);
            resolve();
          };
        }),
    });
    const { map, scopes } = setup([], [], podInfo);
    const a = scopes.addScope(namespaceA);
    scopes.observe(inA.cgroupId, inA.containerId);
    expect(map.of(a)).toStrictEqual([]);
    scopes.observe(inA.cgroupId, inA.containerId); // known: no second question
    expect(asked).toBe(1);
    answer();
    await new Promise((r) => setImmediate(r));
    expect(map.of(a)).toStrictEqual([101n]);
  });

  it("asks again about a container no source knows only after a while (pod and infra cgroups)", async () => {
    let asked = 0;
    const podInfo = Object.assign(new StaticPodInfoSource(), {
      refresh: async () => {
        asked++;
      },
    });
    const { scopes } = setup([inA], [], podInfo);
    await new Promise((r) => setImmediate(r));
    scopes.resync();
    scopes.resync();
    await new Promise((r) => setImmediate(r));
    expect(asked).toBe(1);
  });

  it("resync forgets cgroups that are gone and follows label changes", () => {
    const { map, scopes, present, podInfo } = setup([inA, inB], [podA, podB]);
    const web = scopes.addScope({ podSelector: { matchLabels: { app: "web" } }, includeHost: false });
    expect(map.of(web)).toStrictEqual([101n]);
    podInfo.add(pod(id("b"), "ns-b", { app: "web" }));
    scopes.resync();
    expect(map.of(web)).toStrictEqual([101n, 102n]);
    present.splice(0, 1); // container a is gone
    scopes.resync();
    expect(map.of(web)).toStrictEqual([102n]);
    expect(map.of(ALL_CONTAINERS)).toStrictEqual([102n]);
  });

  it("a refused write leaves the container out and is retried at the next change", () => {
    const refusing = new RecordedMap();
    let refuse = true;
    const map: ScopeMap = {
      setScopeCgroup: (s, c, m) => {
        if (refuse && m && s !== ALL_CONTAINERS) throw new Error("E2BIG");
        return refusing.setScopeCgroup(s, c, m);
      },
    };
    const scopes = new ScopeMaintainer({ map, podInfo: new StaticPodInfoSource([podA]), scan: () => [inA] });
    scopes.resync();
    const a = scopes.addScope(namespaceA);
    expect(refusing.of(a)).toStrictEqual([]);
    refuse = false;
    scopes.resync();
    expect(refusing.of(a)).toStrictEqual([101n]);
  });
});

describe("workloadOf", () => {
  it("takes the repository from the image id, else from the name", () => {
    expect(workloadOf(podA)).toStrictEqual({
      namespace: "ns-a",
      podLabels: { app: "web" },
      containerName: "app",
      containerRepo: "docker.io/library/nginx",
    });
    const noDigest = pod(id("c"), "x", {});
    if (noDigest.container?.image) noDigest.container.image.id = "sha256:4567";
    expect(workloadOf(noDigest).containerRepo).toBe("docker.io/library/nginx");
  });
});

describe("scanContainerCgroups", () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("finds container directories by name, with their inode as cgroup id (v1 ones flagged)", () => {
    dir = mkdtempSync(join(tmpdir(), "nsguard-scan-"));
    const unified = join(dir, "unified");
    const memory = join(dir, "memory");
    const paths = [
      join(unified, "libpod_parent", `libpod-${id("a")}`),
      join(unified, "kubepods", "besteffort", "pod1234", id("b")),
      join(unified, "system.slice", "sshd.service"),
      join(memory, "libpod_parent", `libpod-${id("a")}`),
    ];
    for (const p of paths) mkdirSync(p, { recursive: true });
    const ino = (p: string) => statSync(p, { bigint: true }).ino;
    const found = scanContainerCgroups({ unified, memory });
    expect(found).toHaveLength(3);
    expect(found).toEqual(
      expect.arrayContaining([
        { cgroupId: ino(paths[0] as string), containerId: id("a") },
        { cgroupId: ino(paths[1] as string), containerId: id("b") },
        { cgroupId: ino(paths[3] as string) | throttleConstants.cgroupV1Flag, containerId: id("a") },
      ]),
    );
  });
});
