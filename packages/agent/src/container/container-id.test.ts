import { describe, expect, it } from "vitest";
import {
  containerIdFromCgroup,
  qualifiedContainerId,
  runtimeFromCgroupPath,
  unqualifiedContainerId,
} from "./container-id.js";

const HEX64 = "057dc8d712abf96c628c82ea111d53a205a256b0dc39bb31284426aaf378acbc";

// Tetragon's pkg/sensors/exec/exec_test.go Test_msgToExecveKubeUnix: the names come from BPF.
describe("containerIdFromCgroup — Tetragon's test vectors", () => {
  const kernel = { kernelSource: true };

  it("minikube docker-<id>.scope", () => {
    const name = "docker-9e123a99b140a6ea4a8d15040ca2c8ee2d5ee9605e81d66ae4e3e29c3f0ef220.scope";
    expect(containerIdFromCgroup(name, kernel)).toEqual({
      id: "9e123a99b140a6ea4a8d15040ca2c8ee2d5ee9605e81d66ae4e3e29c3f0ef220",
      docker: "9e123a99b140a6ea4a8d15040ca2c8e",
    });
  });

  it("GKE bare hex id", () => {
    const id = "82836ef3675020258bee5075ace6264b3bc5300e20c975543cbc984bea59638f";
    const got = containerIdFromCgroup(id, kernel);
    expect(got).toEqual({ id, docker: id.slice(0, 31) });
    expect(got.docker).toHaveLength(31);
  });

  it("systemd driver kubepods-…slice:cri-containerd:<id>", () => {
    const a =
      "kubepods-burstable-pod29349498_197c_4919_b13f_9a928e7d001b.slice:cri-containerd:0ca2b3cd20e5f55a2bbe8d4aa3f811cf7963b40f0542ad147054b0fcb60fc400";
    expect(containerIdFromCgroup(a, kernel).docker).toBe(a.slice(80, 80 + 31));
    const b =
      "kubepods-besteffort-pod13cb8437-00ed-40e4-99d8-e17193a58086.slice:cri-containerd:a5a6a3af5d51ad95b915ca948710b90a94abc279e84963b9d22a39f342ce67d9";
    expect(containerIdFromCgroup(b, kernel)).toEqual({
      id: "a5a6a3af5d51ad95b915ca948710b90a94abc279e84963b9d22a39f342ce67d9",
      docker: b.slice(81, 81 + 31),
    });
  });

  it("cri-containerd-<id>.scope", () => {
    const name = "cri-containerd-5694f82f44168cc048e014ae14d1b0c8ef673bec49f329dc169911ea638f63c2.scope";
    expect(containerIdFromCgroup(name, kernel)).toEqual({
      id: "5694f82f44168cc048e014ae14d1b0c8ef673bec49f329dc169911ea638f63c2",
      docker: "5694f82f44168cc048e014ae14d1b0c",
    });
  });

  it("libpod-<id>", () => {
    const name = "libpod-01f3c60cfaadbb51e4d5947dd2ef0480d53551cbcee8f3ada8c3723b2bf03bf4";
    expect(containerIdFromCgroup(name, kernel).docker).toBe("01f3c60cfaadbb51e4d5947dd2ef048");
  });

  it(":<id>", () => {
    const name = ":a5a6a3af5d51ad95b915ca948710b90a94abc279e84963b9d22a39f342ce67d9";
    expect(containerIdFromCgroup(name, kernel).docker).toBe("a5a6a3af5d51ad95b915ca948710b90");
  });

  it("rejects a 31-character id that was not truncated", () => {
    expect(containerIdFromCgroup("ba4c34f800cf9f92881fd55cea8e60d", kernel)).toEqual({ id: "", docker: "" });
    expect(containerIdFromCgroup(":ba4c34f800cf9f92881fd55cea8e60d", kernel)).toEqual({ id: "", docker: "" });
  });

  it("rejects an empty name (the root cgroup)", () => {
    expect(containerIdFromCgroup("", kernel)).toEqual({ id: "", docker: "" });
  });
});

describe("containerIdFromCgroup — truncation, services, parents", () => {
  it("accepts ≥31 characters only when the kernel buffer was full", () => {
    // 127 characters: what a 128-byte kernel buffer holds of a longer name.
    const prefix = "kubepods-besteffort-pod13cb8437-00ed-40e4-99d8-e17193a58086.slice:cri-containerd:";
    const full = `${prefix}${HEX64}`;
    const cut = full.slice(0, 127);
    expect(cut.length - prefix.length).toBe(46);
    expect(containerIdFromCgroup(cut, { kernelSource: true })).toEqual({
      id: HEX64.slice(0, 46),
      docker: HEX64.slice(0, 31),
    });
    expect(containerIdFromCgroup(cut)).toEqual({ id: "", docker: "" });
  });

  it("rejects systemd services, and finds their container only with walkParent", () => {
    const path = `/kubepods/besteffort/podabc/${HEX64}/init.service`;
    expect(containerIdFromCgroup(path)).toEqual({ id: "", docker: "" });
    expect(containerIdFromCgroup(path, { walkParent: true })).toEqual({
      id: HEX64,
      docker: HEX64.slice(0, 31),
    });
    expect(containerIdFromCgroup(`docker-${HEX64}.service`)).toEqual({ id: "", docker: "" });
  });

  it("walks from podman's …/libpod-<id>/container to the parent by itself", () => {
    expect(containerIdFromCgroup(`/libpod_parent/libpod-${HEX64}/container`).id).toBe(HEX64);
  });

  it("uses the outermost container for sysbox's syscont-cgroup-root", () => {
    const inner = "f".repeat(64);
    expect(containerIdFromCgroup(`/a/b/c/${HEX64}/x/${inner}/syscont-cgroup-root`).id).toBe(HEX64);
  });
});

// Real paths measured on these machines (spec/container-runtimes.md).
describe("containerIdFromCgroup — podman and containerd here", () => {
  it("podman cgroupfs: /libpod_parent/libpod-<id>, in a pod, with a kubelet-style parent", () => {
    for (const path of [
      `/libpod_parent/libpod-${HEX64}`,
      `/libpod_parent/9d3c0e0f0a1b/libpod-${HEX64}`,
      `/kubepods/besteffort/podabcd/libpod-${HEX64}`,
      `0::/libpod_parent/libpod-${HEX64}`,
    ]) {
      expect(containerIdFromCgroup(path)).toEqual({ id: HEX64, docker: "057dc8d712abf96c628c82ea111d53a" });
    }
  });

  it("containerd CRI: /k8s.io/<id> and <cgroup_parent>/<id>", () => {
    expect(containerIdFromCgroup(`/k8s.io/${HEX64}`).id).toBe(HEX64);
    expect(containerIdFromCgroup(`/kubepods/besteffort/pod1234abcd/${HEX64}`).id).toBe(HEX64);
  });

  it("ctr run names the cgroup after the container name, which is not an id", () => {
    expect(containerIdFromCgroup("/k8s.io/ctr-probe1")).toEqual({ id: "", docker: "" });
  });

  it("conmon and this sandbox's 32-hex cgroups are not containers", () => {
    expect(containerIdFromCgroup("/libpod_parent/conmon").id).toBe("");
    expect(containerIdFromCgroup("/process_api/e81a3968baa706c03c0dbb6a3952bd93").id).toBe("");
  });
});

describe("runtimeFromCgroupPath", () => {
  it("guesses from naming conventions", () => {
    expect(runtimeFromCgroupPath(`/k8s.io/${HEX64}`)).toBe("containerd");
    expect(runtimeFromCgroupPath(`/kubepods.slice/x.slice:cri-containerd:${HEX64}`)).toBe("containerd");
    expect(runtimeFromCgroupPath(`cri-containerd-${HEX64}.scope`)).toBe("containerd");
    expect(runtimeFromCgroupPath(`/kubepods.slice/crio-${HEX64}.scope`)).toBe("cri-o");
    expect(runtimeFromCgroupPath(`/libpod_parent/libpod-${HEX64}`)).toBe("podman");
    expect(runtimeFromCgroupPath(`/system.slice/docker-${HEX64}.scope`)).toBe("docker");
    expect(runtimeFromCgroupPath(`/docker/${HEX64}`)).toBe("docker");
    expect(runtimeFromCgroupPath(`/kubepods/besteffort/pod1/${HEX64}`)).toBe("containerd");
    expect(runtimeFromCgroupPath("/user.slice/session-1.scope")).toBeUndefined();
  });
});

describe("qualified ids", () => {
  it("adds and strips the runtime scheme", () => {
    expect(qualifiedContainerId("containerd", HEX64)).toBe(`containerd://${HEX64}`);
    expect(unqualifiedContainerId(`containerd://${HEX64}`)).toBe(HEX64);
    expect(unqualifiedContainerId(HEX64)).toBe(HEX64);
  });
});
