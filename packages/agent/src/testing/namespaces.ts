import type { NamespaceInums } from "../process/raw-input.js";

/** Namespace inums of a host process in builder and cache tests (small numbers: easy to read in diffs). */
export const HOST_NAMESPACES: NamespaceInums = {
  uts: 11,
  ipc: 12,
  mnt: 13,
  pid: 14,
  pidForChildren: 14,
  net: 15,
  time: 16,
  timeForChildren: 16,
  cgroup: 17,
  user: 18,
};
