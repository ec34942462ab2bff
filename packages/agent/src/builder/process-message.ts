import { clone, create } from "@bufbuild/protobuf";
import { TimestampSchema } from "@bufbuild/protobuf/wkt";
import { type Namespaces, NamespacesSchema, PodSchema, type Process, ProcessSchema } from "@nsguard/sdk";
import type { CachedProcess } from "../process/process-record.js";
import type { NamespaceInums } from "../process/raw-input.js";

export interface ProcessMessageOptions {
  /**
   * Include `refcnt`. Tetragon sets it only on copies of the event's own process (kprobe, exec,
   * exit); the `parent` it attaches is the cache's object, whose refcnt field is 0 — which is
   * why the seed's parent has no refcnt.
   */
  refcnt?: boolean;
  /** The thread that triggered the event; cached processes carry tid = pid. */
  tid?: number;
  /** Emit `ns` (Tetragon's --enable-process-ns, off by default). */
  namespaces?: boolean;
  /** Host namespace inums for `is_host`; without them is_host stays false. */
  hostNamespaces?: NamespaceInums | undefined;
}

/**
 * A cached process → tetragon.Process. Wrapper fields (pid, uid, auid, tid) are always set so
 * that protojson prints them even when 0 (`"uid": 0`); `in_init_tree`, `cap` and credentials are
 * not emitted, matching the seed event.
 */
export function toProcessMessage(record: CachedProcess, options: ProcessMessageOptions = {}): Process {
  const message = create(ProcessSchema, {
    execId: record.execId,
    pid: record.pid,
    uid: record.uid,
    cwd: record.cwd,
    binary: record.binary,
    arguments: record.arguments,
    flags: record.flags,
    // Copies: an event may be filtered or redacted in place downstream; the cache must not change.
    startTime: clone(TimestampSchema, record.startTime),
    auid: record.auid,
    pod: record.pod ? clone(PodSchema, record.pod) : undefined,
    docker: record.docker,
    parentExecId: record.parentExecId,
    refcnt: options.refcnt ? record.refcnt : 0,
    tid: options.tid ?? record.tid ?? record.pid,
  });
  if (options.namespaces && record.ns) message.ns = toNamespaces(record.ns, options.hostNamespaces);
  return message;
}

export function toNamespaces(ns: NamespaceInums, host?: NamespaceInums): Namespaces {
  const one = (key: keyof NamespaceInums) => ({
    inum: ns[key],
    isHost: host !== undefined && ns[key] !== 0 && ns[key] === host[key],
  });
  return create(NamespacesSchema, {
    uts: one("uts"),
    ipc: one("ipc"),
    mnt: one("mnt"),
    pid: one("pid"),
    pidForChildren: one("pidForChildren"),
    net: one("net"),
    time: one("time"),
    timeForChildren: one("timeForChildren"),
    cgroup: one("cgroup"),
    user: one("user"),
  });
}
