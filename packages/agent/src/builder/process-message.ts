import { clone, create } from "@bufbuild/protobuf";
import { TimestampSchema } from "@bufbuild/protobuf/wkt";
import {
  type Capabilities,
  CapabilitiesSchema,
  type CapabilitiesType,
  type Namespaces,
  NamespacesSchema,
  PodSchema,
  type Process,
  type ProcessCredentials,
  ProcessCredentialsSchema,
  ProcessSchema,
  type SecureBitsType,
} from "@nsguard/sdk";
import type { CachedProcess } from "../process/process-record.js";
import type { CredsInput, NamespaceInums } from "../process/raw-input.js";

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
  /** Emit `cap` and `process_credentials` (Tetragon's --enable-process-cred, off by default). */
  credentials?: boolean;
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
  /** The annotations it was built with (agent-wide flags, so in practice one set per agent). */
  namespaces: boolean;
  hostNamespaces: NamespaceInums | undefined;
  credentials: boolean;
  message: Process;
  /**
   * The last per-event variant (another tid or refcnt): a flood from one thread reuses one object,
   * so the hub's encoder (memoising Process bodies by object) encodes the process once.
   */
  variant?: Process | undefined;
}
const baseMessages = new WeakMap<CachedProcess, BaseMessage>();

function baseProcessMessage(record: CachedProcess, options: ProcessMessageOptions): BaseMessage {
  const namespaces = options.namespaces ?? false;
  const credentials = options.credentials ?? false;
  const memo = baseMessages.get(record);
  if (
    memo &&
    memo.execId === record.execId &&
    memo.flags === record.flags &&
    memo.pod === record.pod &&
    memo.namespaces === namespaces &&
    memo.hostNamespaces === options.hostNamespaces &&
    memo.credentials === credentials
  ) {
    return memo;
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
    // Tetragon sets it on every process, true or false (a BoolValue, so JSON shows false too).
    inInitTree: record.inInitTree,
  });
  // Tetragon's AnnotateProcess: what --enable-process-ns / --enable-process-cred add.
  if (namespaces && record.ns) message.ns = toNamespaces(record.ns, options.hostNamespaces);
  if (credentials && record.creds) {
    message.cap = toCapabilities(record.creds);
    message.processCredentials = toCredentials(record.creds);
  }
  const base: BaseMessage = {
    execId: record.execId,
    flags: record.flags,
    pod: record.pod,
    namespaces,
    hostNamespaces: options.hostNamespaces,
    credentials,
    message,
  };
  baseMessages.set(record, base);
  return base;
}

/**
 * A cached process → tetragon.Process. Wrapper fields (pid, uid, auid, tid, in_init_tree) are
 * always set so that protojson prints them even when 0 or false (`"uid": 0`); `ns`, `cap` and
 * `process_credentials` only when their flag asks for them, as in Tetragon.
 */
export function toProcessMessage(record: CachedProcess, options: ProcessMessageOptions = {}): Process {
  const memo = baseProcessMessage(record, options);
  const base = memo.message;
  const tid = options.tid ?? record.tid ?? record.pid;
  const refcnt = options.refcnt ? record.refcnt : 0;
  if (tid === base.tid && refcnt === 0) return base;
  const last = memo.variant;
  if (last && last.tid === tid && last.refcnt === refcnt) return last;
  // A shallow copy is a complete message: sub-messages are shared, and never mutated.
  const message: Process = { ...base, tid, refcnt };
  memo.variant = message;
  return message;
}

/** kernel_cap_t bits → the capability list (bit n = CapabilitiesType n), lowest first. */
function capabilityList(mask: bigint): CapabilitiesType[] {
  const out: CapabilitiesType[] = [];
  for (let bit = 0; mask >> BigInt(bit) !== 0n; bit++) {
    if ((mask >> BigInt(bit)) & 1n) out.push(bit as CapabilitiesType);
  }
  return out;
}

export function toCapabilities(creds: CredsInput): Capabilities {
  return create(CapabilitiesSchema, {
    permitted: capabilityList(creds.capPermitted),
    effective: capabilityList(creds.capEffective),
    inheritable: capabilityList(creds.capInheritable),
  });
}

/**
 * Tetragon's apiCreds: the eight ids and the securebits, nothing else (its `caps` and `user_ns`
 * stay unset in process events; capabilities go in Process.cap).
 */
export function toCredentials(creds: CredsInput): ProcessCredentials {
  const securebits: SecureBitsType[] = [];
  // SecureBitsType values are the SECBIT_* bits themselves (SecBitNoRoot = 1 … = 128).
  for (let bit = 1; bit <= 0x80; bit <<= 1)
    if (creds.securebits & bit) securebits.push(bit as SecureBitsType);
  return create(ProcessCredentialsSchema, {
    uid: creds.uid,
    gid: creds.gid,
    euid: creds.euid,
    egid: creds.egid,
    suid: creds.suid,
    sgid: creds.sgid,
    fsuid: creds.fsuid,
    fsgid: creds.fsgid,
    securebits,
  });
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
