import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { mountedFsType } from "./kernel-features.js";

// Lines as the kernel writes /proc/PID/mountinfo (proc_pid_mountinfo(5)).
const MOUNTINFO = [
  "22 28 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw",
  "30 22 0:27 / /sys/fs/bpf rw,nosuid,nodev,noexec,relatime shared:9 - bpf bpf rw,mode=700",
  // A hostPath bind of an empty /sys/kernel/tracing: sysfs, not tracefs.
  "41 22 0:21 /kernel/tracing /sys/kernel/tracing rw,relatime - sysfs sysfs rw",
].join("\n");

describe("mountedFsType", () => {
  it("tells the filesystem mounted at a path, the topmost of stacked mounts", () => {
    expect(mountedFsType(MOUNTINFO, "/sys/fs/bpf")).toBe("bpf");
    expect(mountedFsType(MOUNTINFO, "/sys/kernel/tracing")).toBe("sysfs");
    const stacked = `${MOUNTINFO}\n52 41 0:13 / /sys/kernel/tracing rw,relatime - tracefs tracefs rw`;
    expect(mountedFsType(stacked, "/sys/kernel/tracing")).toBe("tracefs");
    expect(mountedFsType(MOUNTINFO, "/sys/kernel/debug")).toBeUndefined();
  });

  it("reads this process's real mountinfo", () => {
    expect(mountedFsType(readFileSync("/proc/self/mountinfo", "utf8"), "/proc")).toBe("proc");
  });
});
