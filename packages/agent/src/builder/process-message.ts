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
 * The part of a process's message that is the same in every event about it (no refcnt, tid =
 * pid), built once per cache entry and shared by every event that names the process: building
 * it with create() and cloning pod and start time per event was most of the event builder's cost.
 * Entries change in place (a late pod, an exec replacing the image), so the memo is checked
 * against the fields that can change.
 *
 * Invariant (the hub's): published messages are never mutated; whoever needs another shape
 * copies (field filters do).
 */
interface BaseMessage {
  execId: string;
  flags: string;
  pod: CachedProcess["pod"];
  message: Process;
  /**
   * The last per-event variant (another tid or refcnt): a flood from one thread reuses one object,
   * so the hub's encoder (memoising Process bodies by object) encodes the process once.
   */
  variant?: Process | undefined;
}
const baseMessages = new WeakMap<CachedProcess, BaseMessage>();

function baseProcessMessage(record: CachedProcess): Process {
  const memo = baseMessages.get(record);
  if (memo && memo.execId === record.execId && memo.flags === record.flags && memo.pod === record.pod) {
    return memo.message;
  }
  const message = create(ProcessSchema, {
    execId: record.execId,
    pid: record.pid,
    uid: record.uid,
    cwd: record.cwd,
    binary: record.binary,
    arguments: record.arguments,
    flags: record.flags,
    // Copies: the cache's own objects must not be reachable from published events.
    startTime: clone(TimestampSchema, record.startTime),
    auid: record.auid,
    pod: record.pod ? clone(PodSchema, record.pod) : undefined,
    docker: record.docker,
    parentExecId: record.parentExecId,
    tid: record.pid,
  });
  baseMessages.set(record, { execId: record.execId, flags: record.flags, pod: record.pod, message });
  return message;
}

/**
 * A cached process → tetragon.Process. Wrapper fields (pid, uid, auid, tid) are always set so
 * that protojson prints them even when 0 (`"uid": 0`); `in_init_tree`, `cap` and credentials are
 * not emitted, matching the seed event.
 */
export function toProcessMessage(record: CachedProcess, options: ProcessMessageOptions = {}): Process {
  const base = baseProcessMessage(record);
  const tid = options.tid ?? record.tid ?? record.pid;
  const refcnt = options.refcnt ? record.refcnt : 0;
  const withNamespaces = options.namespaces && record.ns;
  if (tid === base.tid && refcnt === 0 && !withNamespaces) return base;
  const memo = baseMessages.get(record);
  const last = memo?.variant;
  if (!withNamespaces && last && last.tid === tid && last.refcnt === refcnt) return last;
  // A shallow copy is a complete message: sub-messages are shared, and never mutated.
  const message: Process = { ...base, tid, refcnt };
  if (withNamespaces && record.ns) message.ns = toNamespaces(record.ns, options.hostNamespaces);
  else if (memo) memo.variant = message;
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
