import type { Timestamp } from "@bufbuild/protobuf/wkt";
import type { Pod } from "@nsguard/sdk";
import type { CredsInput, NamespaceInums } from "./raw-input.js";

/**
 * One process as the agent knows it: everything needed to fill a tetragon.Process, in plain
 * values. Produced by the procfs scan and by the process cache from kernel records.
 */
export interface ProcessRecord {
  execId: string;
  /** Host tgid. */
  pid: number;
  /** Cached processes are per thread group, so this is the pid; events override it. */
  tid?: number;
  /** Boot-clock ns of the clone/exec (or procfs starttime × 1e9 / CLK_TCK); part of execId. */
  ktime: bigint;
  parentExecId: string;
  parentPid: number;
  /** The parent's ktime as far as known (0n when unknown); the kernel table wants it. */
  parentKtime: bigint;
  /** Real uid, as Tetragon's `Process.uid` (bpf_get_current_uid_gid). */
  uid: number;
  euid?: number;
  /** loginuid; 4294967295 = unset. */
  auid: number;
  cwd: string;
  binary: string;
  arguments: string;
  /** Tetragon's flag string, e.g. "execve rootcwd clone". */
  flags: string;
  startTime: Timestamp;
  /** First 31 characters of the container id ("" on the host): `Process.docker`. */
  docker: string;
  /** Full container id without scheme ("" on the host). */
  containerId: string;
  /** Pod as it appears on this process (container.pid = nspid), when known. */
  pod?: Pod;
  /** pid inside its own pid namespace; 0 in the initial pid namespace. */
  nspid: number;
  ns?: NamespaceInums;
  /**
   * Descends from the init (pid 1) of its pid namespace (Tetragon's in_init_tree): false for what
   * `kubectl exec`, `docker exec` or `nsenter` injects into a container.
   */
  inInitTree: boolean;
  /** Credentials and capabilities, from the kernel at exec/clone or from /proc/<pid>/status. */
  creds?: CredsInput;
}

/** A record as held by the process cache, with Tetragon's reference count. */
export interface CachedProcess extends ProcessRecord {
  /**
   * 1 while the process is alive, +1 per live child whose parent it is (Tetragon's
   * process++/parent++); 0 means it can be dropped once the grace period has passed.
   */
  readonly refcnt: number;
  /** An exit was seen, or the pid exec'd and this entry was replaced. */
  readonly exited: boolean;
}
