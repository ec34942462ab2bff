import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { throttleConstants } from "@nsguard/sensor";
import { containerIdFromCgroup } from "../container/container-id.js";

/** One container cgroup directory: the id the kernel reports for its tasks, and its container. */
export interface ContainerCgroup {
  /** As struct nsguard_task.cgroup_id: the kernfs id (= the directory's inode), | the v1 flag. */
  cgroupId: bigint;
  /** Full container id, without scheme. */
  containerId: string;
}

export interface CgroupRoots {
  /** The cgroup v2 mount (`/sys/fs/cgroup`, or `/sys/fs/cgroup/unified` on hybrid hosts). */
  unified?: string | undefined;
  /** The v1 memory hierarchy (hybrid hosts), whose ids the kernel flags NSGUARD_SOURCE_CGROUP_V1. */
  memory?: string | undefined;
}

/** The node's cgroup mounts, as bpf/lib/task.bpf.h container_cgroup_id() reads them. */
export function defaultCgroupRoots(base = "/sys/fs/cgroup"): CgroupRoots {
  const unified = existsSync(join(base, "cgroup.controllers")) ? base : join(base, "unified");
  const memory = join(base, "memory");
  return {
    unified: existsSync(join(unified, "cgroup.controllers")) ? unified : undefined,
    memory: existsSync(join(memory, "memory.stat")) ? memory : undefined,
  };
}

/** Deeper than any runtime's layout (kubepods.slice/…/pod…/<id>/<sub>), bounded against loops. */
const MAX_DEPTH = 8;

/**
 * Every container cgroup on the node, found by walking the cgroup filesystems: a directory whose
 * path names a container (Tetragon's cgroup-name rules, container-id.ts) is one, and its id is
 * its inode number — a cgroup's kernfs id is the inode number of its directory (64-bit inodes),
 * which is what the kernel compares. A container may show in both the v2 and the v1 memory
 * hierarchy: both ids are returned, whichever the kernel then reads for its tasks.
 */
export function scanContainerCgroups(roots: CgroupRoots = defaultCgroupRoots()): ContainerCgroup[] {
  const found: ContainerCgroup[] = [];
  const walk = (root: string, rel: string, depth: number, flag: bigint) => {
    let entries: import("node:fs").Dirent[];
    try {
      entries = readdirSync(join(root, rel), { withFileTypes: true });
    } catch {
      return; // removed while walking
    }
    for (const entry of entries) {
      if (!entry.isDirectory()) continue;
      const path = `${rel}/${entry.name}`;
      const { id } = containerIdFromCgroup(path);
      if (id !== "") {
        try {
          found.push({ cgroupId: statSync(join(root, path), { bigint: true }).ino | flag, containerId: id });
        } catch {
          continue; // removed while walking
        }
      }
      if (depth < MAX_DEPTH) walk(root, path, depth + 1, flag);
    }
  };
  if (roots.unified) walk(roots.unified, "", 1, 0n);
  if (roots.memory) walk(roots.memory, "", 1, throttleConstants.cgroupV1Flag);
  return found;
}
