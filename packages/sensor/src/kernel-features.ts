import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";

export const TRACEFS = "/sys/kernel/tracing";
export const BPFFS = "/sys/fs/bpf";

/** What this kernel offers the sensor, probed once at start-up. */
export interface KernelFeatures {
  btf: boolean;
  tracefs: boolean;
  /** kprobe PMU present (CONFIG_KPROBE_EVENTS); absent on our CI kernel class. */
  kprobes: boolean;
}

function isMounted(path: string): boolean {
  return spawnSync("mountpoint", ["-q", path], { stdio: "ignore" }).status === 0;
}

/** Mount tracefs and bpffs when missing: fresh VMs of our CI class boot without them. */
export function ensureKernelMounts(): void {
  for (const [type, path] of [
    ["tracefs", TRACEFS],
    ["bpf", BPFFS],
  ] as const) {
    if (isMounted(path)) continue;
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
