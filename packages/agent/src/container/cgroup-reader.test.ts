import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  cgroupName,
  parseProcCgroup,
  pickContainerCgroupPath,
  readContainerCgroupPath,
} from "./cgroup-reader.js";

const ID = "057dc8d712abf96c628c82ea111d53a205a256b0dc39bb31284426aaf378acbc";

describe("parseProcCgroup", () => {
  it("parses v1 and v2 lines, keeping colons inside paths", () => {
    const entries = parseProcCgroup(
      "9:name=systemd:/\n1:cpu,cpuacct:/a\n0::/kubepods.slice/x.slice:cri-containerd:abc\n",
    );
    expect(entries).toEqual([
      { hierarchy: 9, controllers: ["name=systemd"], path: "/" },
      { hierarchy: 1, controllers: ["cpu", "cpuacct"], path: "/a" },
      { hierarchy: 0, controllers: [], path: "/kubepods.slice/x.slice:cri-containerd:abc" },
    ]);
  });
});

describe("pickContainerCgroupPath", () => {
  it("uses the unified path of a podman container on this hybrid machine", () => {
    const text = [
      `9:name=systemd:/libpod_parent/libpod-${ID}`,
      `4:memory:/libpod_parent/libpod-${ID}`,
      `0::/libpod_parent/libpod-${ID}`,
    ].join("\n");
    expect(pickContainerCgroupPath(parseProcCgroup(text))).toBe(`/libpod_parent/libpod-${ID}`);
  });

  it("prefers unified over v1 when they differ", () => {
    const text = `4:memory:/other\n0::/k8s.io/${ID}`;
    expect(pickContainerCgroupPath(parseProcCgroup(text))).toBe(`/k8s.io/${ID}`);
  });

  it("falls back to memory, then name=systemd, when the unified path is /", () => {
    expect(pickContainerCgroupPath(parseProcCgroup(`9:name=systemd:/s\n4:memory:/m\n0::/`))).toBe("/m");
    expect(pickContainerCgroupPath(parseProcCgroup(`9:name=systemd:/s\n4:memory:/\n0::/`))).toBe("/s");
    expect(pickContainerCgroupPath(parseProcCgroup(`9:name=systemd:/\n4:memory:/\n0::/`))).toBe("/");
  });

  it("works on a pure v1 machine", () => {
    expect(pickContainerCgroupPath(parseProcCgroup(`4:memory:/docker/${ID}`))).toBe(`/docker/${ID}`);
  });
});

describe("readContainerCgroupPath", () => {
  it("reads a real process: agrees with /proc/self/cgroup for a child we spawn", async () => {
    const child = spawn("sleep", ["30"], { stdio: "ignore" });
    try {
      await new Promise((resolve) => child.once("spawn", resolve));
      const pid = child.pid ?? 0;
      const expected = pickContainerCgroupPath(parseProcCgroup(readFileSync("/proc/self/cgroup", "utf8")));
      expect(readContainerCgroupPath(pid)).toBe(expected);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("is undefined for a pid that does not exist", () => {
    expect(readContainerCgroupPath(0x3fffffff)).toBeUndefined();
  });
});

describe("cgroupName", () => {
  it("is the last component", () => {
    expect(cgroupName(`/libpod_parent/libpod-${ID}`)).toBe(`libpod-${ID}`);
    expect(cgroupName("/")).toBe("");
  });
});
