import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";

export const TRACEFS = "/sys/kernel/tracing";
export const BPFFS = "/sys/fs/bpf";

/** What this kernel offers the sensor, probed once at start-up. */
export interface KernelFeatures {
  btf: boolean;
  tracefs: boolean;
  /** kprobe PMU present (CONFIG_KPROBE_EVENTS); absent on our CI kernel class. */
  kprobes: boolean;
}

/**
 * The filesystem type mounted at `path` in a /proc/PID/mountinfo text (the topmost mount when
 * several are stacked), or undefined. "Something is mounted there" is not enough: a container
 * given the host's /sys/kernel/tracing as a hostPath, on a host that has not mounted tracefs, sees
 * an empty bind mount of sysfs there.
 */
export function mountedFsType(mountinfo: string, path: string): string | undefined {
  let type: string | undefined;
  for (const line of mountinfo.split("\n")) {
    // id parent major:minor root mount-point options [optional...] - fstype source super-options
    const [left, right] = line.split(" - ");
    if (right === undefined) continue;
    if (left?.split(" ")[4] === path) type = right.split(" ")[0];
  }
  return type;
}

/** Mount tracefs and bpffs where they are not: fresh VMs of our CI class boot without them. */
export function ensureKernelMounts(): void {
  const mountinfo = readFileSync("/proc/self/mountinfo", "utf8");
  for (const [type, path] of [
    ["tracefs", TRACEFS],
    ["bpf", BPFFS],
  ] as const) {
    if (mountedFsType(mountinfo, path) === type) continue;
    try {
      mkdirSync(path, { recursive: true });
      execFileSync("mount", ["-t", type, type, path], { stdio: "ignore" });
    } catch {
      // Reported precisely by probeKernelFeatures / attach errors; not fatal here.
    }
  }
}

export function probeKernelFeatures(): KernelFeatures {
  return {
    btf: existsSync("/sys/kernel/btf/vmlinux"),
    tracefs: existsSync(`${TRACEFS}/events`),
    kprobes: existsSync("/sys/bus/event_source/devices/kprobe"),
  };
}

/** True when `syscalls/sys_enter_<name>` exists (needs CONFIG_FTRACE_SYSCALLS and tracefs). */
export function hasSyscallTracepoint(syscall: string): boolean {
  return existsSync(`${TRACEFS}/events/syscalls/sys_enter_${syscall}`);
}
