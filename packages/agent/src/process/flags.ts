/**
 * Process flag bits and their strings, exactly as Tetragon emits them in `Process.flags`
 * (pkg/api/flags.go + pkg/reader/exec/exec.go; tetragon-reference §3.2).
 *
 * The bit values are shared with the kernel side: bpf/include/nsguard_events.h NSGUARD_FLAG_*
 * uses the same numbers, so a raw exec record's `flags` can be decoded here directly.
 * The strings deliberately differ from the proto comment's spellings (`rootcwd`, not `rootCWD`):
 * consumers match on what Tetragon really prints.
 */
export const ProcessFlag = {
  EXECVE: 0x01,
  PROCFS: 0x04,
  ERROR_ENVS: 0x08,
  TRUNC_ARGS: 0x10,
  MISS: 0x40,
  /**
   * Internal in Tetragon ("audit id not resolved yet"), but it leaks into the output of every
   * process found in /proc at start-up ("procFS auid rootcwd"), so it is kept for fidelity.
   */
  NEEDS_AUID: 0x80,
  ERROR_FILENAME: 0x100,
  ERROR_ARGS: 0x200,
  NO_CWD: 0x800,
  ROOT_CWD: 0x1000,
  ERROR_CWD: 0x2000,
  CLONE: 0x4000,
  ERROR_CGROUP_NAME: 0x010000,
  ERROR_CGROUP_KN: 0x020000,
  ERROR_CGROUP_SUBSYS_CGRP: 0x040000,
  ERROR_CGROUP_SUBSYS: 0x080000,
  ERROR_CGROUPS: 0x100000,
  ERROR_CGROUP_ID: 0x200000,
  ERROR_PATH_COMPONENTS: 0x400000,
  DATA_FILENAME: 0x800000,
  DATA_ARGS: 0x1000000,
  IN_INIT_TREE: 0x2000000,
} as const;

/**
 * Tetragon's fixed output order. It is not the numeric order (errorCgroupID, 0x200000, comes
 * before errorCgroupKn, 0x020000), so it is spelled out instead of sorted.
 */
const ORDERED: ReadonlyArray<readonly [number, string]> = [
  [ProcessFlag.EXECVE, "execve"],
  [ProcessFlag.PROCFS, "procFS"],
  [ProcessFlag.ERROR_ENVS, "errorEnvs"],
  [ProcessFlag.TRUNC_ARGS, "truncArgs"],
  [ProcessFlag.MISS, "miss"],
  [ProcessFlag.NEEDS_AUID, "auid"],
  [ProcessFlag.ERROR_FILENAME, "errorFilename"],
  [ProcessFlag.ERROR_ARGS, "errorArgs"],
  [ProcessFlag.NO_CWD, "nocwd"],
  [ProcessFlag.ROOT_CWD, "rootcwd"],
  [ProcessFlag.ERROR_CWD, "errorCWD"],
  [ProcessFlag.CLONE, "clone"],
  [ProcessFlag.ERROR_CGROUP_NAME, "errorCgroupName"],
  [ProcessFlag.ERROR_CGROUP_ID, "errorCgroupID"],
  [ProcessFlag.ERROR_CGROUP_KN, "errorCgroupKn"],
  [ProcessFlag.ERROR_CGROUP_SUBSYS_CGRP, "errorCgroupSubsysCgrp"],
  [ProcessFlag.ERROR_CGROUP_SUBSYS, "errorCgroupSubsys"],
  [ProcessFlag.ERROR_CGROUPS, "errorCgroups"],
  [ProcessFlag.ERROR_PATH_COMPONENTS, "errorPathResolutionCwd"],
  [ProcessFlag.DATA_FILENAME, "dataFilename"],
  [ProcessFlag.DATA_ARGS, "dataArgs"],
  [ProcessFlag.IN_INIT_TREE, "inInitTree"],
];

/** Flag bits → Tetragon's strings, in Tetragon's order. Unknown bits are ignored, as upstream. */
export function decodeFlags(bits: number): string[] {
  const out: string[] = [];
  for (const [bit, name] of ORDERED) if ((bits & bit) !== 0) out.push(name);
  return out;
}

/** Flag bits → the space-separated `Process.flags` string, e.g. "execve rootcwd clone". */
export function formatFlags(bits: number): string {
  return decodeFlags(bits).join(" ");
}

/** `Process.flags` string → bits; unknown words are ignored. Used to re-derive flags of a copy. */
export function parseFlags(flags: string): number {
  let bits = 0;
  for (const word of flags.split(" ")) {
    const hit = ORDERED.find(([, name]) => name === word);
    if (hit) bits |= hit[0];
  }
  return bits;
}
