import { readFileSync } from "node:fs";

/** One line of /proc/<pid>/cgroup: `hierarchy-id:controller-list:path`. */
export interface CgroupEntry {
  hierarchy: number;
  /** Controllers of a v1 hierarchy (`["cpu", "cpuacct"]`, `["name=systemd"]`); empty for v2. */
  controllers: string[];
  path: string;
}

export function parseProcCgroup(text: string): CgroupEntry[] {
  const entries: CgroupEntry[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const first = line.indexOf(":");
    const second = line.indexOf(":", first + 1);
    if (first < 0 || second < 0) continue;
    const list = line.slice(first + 1, second);
    entries.push({
      hierarchy: Number(line.slice(0, first)),
      controllers: list === "" ? [] : list.split(","),
      // The path may itself contain ':' (systemd-driver names), so it is everything after the 2nd.
      path: line.slice(second + 1),
    });
  }
  return entries;
}

/**
 * The cgroup path that identifies a process's container.
 *
 * Prefer the unified (v2, `0::`) path: it is what the kernel reports for exec records
 * (cgroup->dfl_cgrp), so procfs-seeded and kernel-seen processes get the same container id.
 * On a hybrid machine like this one, runc creates the unified directory too; but processes that
 * a runtime placed only in v1 hierarchies show `0::/`, so then fall back to the memory
 * controller, then `name=systemd`. Returns "/" when every hierarchy says root.
 */
export function pickContainerCgroupPath(entries: readonly CgroupEntry[]): string {
  const unified = entries.find((e) => e.hierarchy === 0 && e.controllers.length === 0);
  if (unified && unified.path !== "/") return unified.path;
  for (const controller of ["memory", "name=systemd"]) {
    const v1 = entries.find((e) => e.controllers.includes(controller));
    if (v1 && v1.path !== "/") return v1.path;
  }
  return unified?.path ?? "/";
}

/** Last component of a cgroup path: the "cgroup name" the kernel side reports. */
export function cgroupName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/**
 * Reads /proc/<pid>/cgroup and returns the container cgroup path (see
 * {@link pickContainerCgroupPath}); undefined when the process is gone or unreadable.
 */
export function readContainerCgroupPath(pid: number, procRoot = "/proc"): string | undefined {
  let text: string;
  try {
    text = readFileSync(`${procRoot}/${pid}/cgroup`, "utf8");
  } catch {
    return undefined;
  }
  return pickContainerCgroupPath(parseProcCgroup(text));
}
