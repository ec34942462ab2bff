import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { CapabilitiesType } from "./gen/tetragon/capabilities_pb.js";
import type { GetEventsResponse } from "./gen/tetragon/events_pb.js";
import { ThrottleType } from "./gen/tetragon/events_pb.js";
import {
  type Capabilities,
  type KprobeArgument,
  type NamespaceChanges,
  NamespaceDirection,
  NamespaceKind,
  type Process,
  type ProcessKprobe,
  type ProcessTracepoint,
} from "./gen/tetragon/tetragon_pb.js";
import { maybeQuote, quoteIfNonPrintable } from "./go-quote.js";
import { namespaceFlagNames, setnsNamespaceName } from "./namespace-flags.js";
import { cutSyscallPrefix } from "./syscall-name.js";

/** Options of {@link toCompact}, named after tetra getevents' flags. */
export interface CompactOptions {
  /** Prefix each line with the event time, `2006-01-02T15:04:05.000000000Z` (tetra --timestamps). */
  timestamps?: boolean;
  /** Append kprobe stack traces as extra `Kernel:` / `User:` lines (tetra's default is on). */
  stackTraces?: boolean;
  /** Append `   <path> <hash>` for LSM events that carry an IMA hash (tetra's default is on). */
  imaHash?: boolean;
}

/** The event cannot be shown in compact form (tetra reports the same two cases as errors). */
export class CompactEncodeError extends Error {
  override readonly name = "CompactEncodeError";
}

/**
 * Encodes one event the way `tetra getevents -o compact --color never` does
 * (pkg/encoder/encoder.go): `<emoji> <label padded to 7> <source> <binary> <details>`,
 * where source is `<namespace>/<pod>` or the node name. Returns the text without a final
 * newline; optional stack-trace or IMA lines follow the main line, separated by "\n".
 */
export function toCompact(event: GetEventsResponse, options: CompactOptions = {}): string {
  let line = eventLine(event);
  if (options.timestamps) line = `${formatCompactTime(event.time)} ${line}`;
  const extra: string[] = [];
  if (options.stackTraces && event.event.case === "processKprobe")
    extra.push(...stackTraceLines(event.event.value));
  if (options.imaHash && event.event.case === "processLsm") {
    const lsm = event.event.value;
    const path = imaPath(lsm.functionName, lsm.args[0]);
    if (lsm.imaHash !== "" && path !== "") extra.push(`   ${path} ${lsm.imaHash}`);
  }
  return [line, ...extra].join("\n");
}

/** tetra's timestamp format: UTC, always nine fractional digits; an unset time is the epoch. */
export function formatCompactTime(ts: Timestamp | undefined): string {
  const seconds = ts?.seconds ?? 0n;
  const nanos = ts?.nanos ?? 0;
  const base = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  return `${base}.${String(nanos).padStart(9, "0")}Z`;
}

const label = (emoji: string, name: string): string => `${emoji} ${name.padEnd(7)}`;

function eventLine(event: GetEventsResponse): string {
  const e = event.event;
  const node = event.nodeName;
  switch (e.case) {
    case "test":
      return "TEST EVENT";
    case "processExec": {
      const p = need(e.value.process);
      return withCaps(
        `${label("🚀", "process")} ${processInfo(node, p)} ${quoteIfNonPrintable(p.arguments)}`,
        p.cap,
      );
    }
    case "processExit": {
      const p = need(e.value.process);
      const status = e.value.signal !== "" ? e.value.signal : String(e.value.status);
      return withCaps(
        `${label("💥", "exit")} ${processInfo(node, p)} ${quoteIfNonPrintable(p.arguments)} ${status}`,
        p.cap,
      );
    }
    case "processThrottle": {
      const t = e.value;
      const kind =
        t.type === ThrottleType.THROTTLE_START
          ? "START"
          : t.type === ThrottleType.THROTTLE_STOP
            ? "STOP "
            : "";
      return `${label("🧬", "throttle")} ${kind} ${maybeQuote(t.cgroup)}`;
    }
    case "processLoader": {
      const p = need(e.value.process);
      const buildId = e.value.buildid.length > 0 ? `${Buffer.from(e.value.buildid).toString("hex")} ` : "";
      return withCaps(
        `${label("🧬", "loader")} ${processInfo(node, p)} ${buildId}${maybeQuote(e.value.path)}`,
        p.cap,
      );
    }
    case "processKprobe":
      return kprobeLine(node, e.value);
    case "processTracepoint":
      return tracepointLine(node, e.value);
    case "processUprobe": {
      const u = e.value;
      const p = need(u.process);
      return withCaps(
        `${label("🕵️", "uprobe")} ${processInfo(node, p)} ${maybeQuote(u.path)} ${u.symbol}`,
        p.cap,
      );
    }
    case "processLsm": {
      const p = need(e.value.process);
      return withCaps(`${label("🔒", "LSM")} ${processInfo(node, p)} ${e.value.functionName}`, p.cap);
    }
    case "processUsdt": {
      const u = e.value;
      const p = need(u.process);
      return withCaps(
        `${label("🕵️", "usdt")} ${processInfo(node, p)} ${maybeQuote(u.path)} ${u.provider} ${u.name}`,
        p.cap,
      );
    }
    default:
      throw new CompactEncodeError(`unknown event type: ${e.case ?? "none"}`);
  }
}

const KIND_NAMES: Readonly<Record<NamespaceKind, string>> = {
  [NamespaceKind.UNSPECIFIED]: "?",
  [NamespaceKind.UTS]: "uts",
  [NamespaceKind.IPC]: "ipc",
  [NamespaceKind.MNT]: "mnt",
  [NamespaceKind.PID]: "pid",
  [NamespaceKind.NET]: "net",
  [NamespaceKind.TIME]: "time",
  [NamespaceKind.CGROUP]: "cgroup",
  [NamespaceKind.USER]: "user",
};

/** How each direction reads after the kinds that took it; `new` goes before them. */
const DIRECTION_TEXT: Readonly<Record<NamespaceDirection, (kinds: string) => string>> = {
  [NamespaceDirection.CONTAINER_TO_HOST]: (kinds) => `${kinds} → host`,
  [NamespaceDirection.HOST_TO_CONTAINER]: (kinds) => `${kinds} host → container`,
  [NamespaceDirection.CONTAINER_TO_CONTAINER]: (kinds) => `${kinds} container → container`,
  [NamespaceDirection.NEW]: (kinds) => `new ${kinds}`,
  [NamespaceDirection.UNCHANGED]: (kinds) => `${kinds} unchanged`,
  [NamespaceDirection.UNSPECIFIED]: (kinds) => kinds,
};

/**
 * Order of kinds on a compact line: what an escape goes for first (the network, the host's
 * filesystem), so `net,mnt` and `net,uts` lead with what matters; the message itself keeps
 * Namespaces field order.
 */
const LINE_ORDER: readonly NamespaceKind[] = [
  NamespaceKind.NET,
  NamespaceKind.MNT,
  NamespaceKind.UTS,
  NamespaceKind.IPC,
  NamespaceKind.PID,
  NamespaceKind.CGROUP,
  NamespaceKind.USER,
  NamespaceKind.TIME,
  NamespaceKind.UNSPECIFIED,
];

/**
 * `net → host`, `new net,mnt`, `net,ipc host → container`: the kinds of each direction, groups in
 * the order of their first kind.
 */
export function namespaceChangesText(changes: NamespaceChanges): string {
  const groups = new Map<NamespaceDirection, string[]>();
  const ordered = [...changes.changes].sort(
    (a, b) => LINE_ORDER.indexOf(a.kind) - LINE_ORDER.indexOf(b.kind),
  );
  for (const change of ordered) {
    const kinds = groups.get(change.direction) ?? [];
    kinds.push(KIND_NAMES[change.kind] ?? "?");
    groups.set(change.direction, kinds);
  }
  return [...groups].map(([direction, kinds]) => DIRECTION_TEXT[direction](kinds.join(","))).join(", ");
}

function kprobeLine(node: string, k: ProcessKprobe): string {
  const p = need(k.process);
  const info = processInfo(node, p);
  const arg = (i: number): KprobeArgument["arg"] | undefined => k.args[i]?.arg;
  const filePath = (i: number): string => {
    const a = arg(i);
    return a?.case === "fileArg" ? maybeQuote(a.value.path) : "";
  };
  const str = (i: number): string => {
    const a = arg(i);
    return a?.case === "stringArg" ? maybeQuote(a.value) : "";
  };
  const int = (i: number): number => {
    const a = arg(i);
    return a?.case === "intArg" ? a.value : 0;
  };
  const sock = (i: number): string => {
    const a = arg(i);
    const s = a?.case === "sockArg" ? a.value : undefined;
    return `tcp ${s?.saddr ?? ""}:${s?.sport ?? 0} -> ${s?.daddr ?? ""}:${s?.dport ?? 0}`;
  };
  const byteCount = (): string => {
    const a = arg(2);
    return k.args.length > 2 ? `${a?.case === "sizeArg" ? a.value : 0n} bytes` : "";
  };
  const line = (emoji: string, name: string, ...details: string[]): string =>
    withCaps([`${label(emoji, name)} ${info}`, ...details].join(" "), p.cap);

  switch (cutSyscallPrefix(k.functionName)) {
    case "sys_write":
      return line("📝", "write", filePath(0), byteCount());
    case "sys_read":
      return line("📚", "read", filePath(0), byteCount());
    case "fd_install":
      return line("📬", "open", filePath(1));
    case "sys_openat":
      return line("📬️", "openat", str(1));
    case "sys_open":
      return line("📬️", "open", str(1));
    case "sys_close":
      return line("📪", "close", filePath(0));
    case "sys_mount":
      return line("💾", "mount", str(0), str(1));
    case "sys_pivot_root":
      return line("💾", "pivot_root", str(0), str(1));
    case "sys_setuid":
      return line("🔑", "setuid", k.args.length > 0 ? String(int(0)) : "");
    case "sys_clock_settime":
      return line("⏰", "clock_settime");
    case "proc_exec_connector":
      return line("🔧", "proc_exec_connector");
    // nsguard: with the kernel's namespace verdict (namespace_changes) the line says where each
    // kind went (`net → host`); without it, what tetra prints.
    case "sys_setns":
      if (k.namespaceChanges) return line("🔧", "setns", namespaceChangesText(k.namespaceChanges));
      return line("🔧", "setns", k.args.length > 1 ? setnsNamespaceName(int(1)) : "");
    // nsguard additions: the other namespace hooks, in the same shape as setns.
    case "sys_unshare":
      if (k.namespaceChanges) return line("🔧", "unshare", namespaceChangesText(k.namespaceChanges));
      return line("🔧", "unshare", namespaceFlagNames(flagsArg(arg(0))).join(","));
    case "sys_clone":
    case "sys_clone3":
      if (k.namespaceChanges) return line("🔧", "clone", namespaceChangesText(k.namespaceChanges));
      return line("🔧", "clone", namespaceFlagNames(flagsArg(arg(0))).join(","));
    case "tcp_connect":
      return line("🔌", "connect", sock(0));
    case "tcp_close":
      return line("🧹", "close", sock(0));
    case "tcp_sendmsg":
      return line("📤", "sendmsg", sock(0), `bytes ${int(1)}`);
    case "bpf_check": {
      const a = arg(0);
      const b = a?.case === "bpfAttrArg" ? a.value : undefined;
      return line(
        "🐝",
        "bpf_load",
        `${b?.ProgType ?? ""} ${b?.ProgName ?? ""} instruction count ${b?.InsnCnt ?? 0}`,
      );
    }
    case "security_perf_event_alloc": {
      const a = arg(0);
      const pe = a?.case === "perfEventArg" ? a.value : undefined;
      return line("🐝", "perf_event_alloc", `${pe?.Type ?? ""} ${pe?.KprobeFunc ?? ""}`);
    }
    case "security_bpf_map_alloc":
    case "security_bpf_map_create": {
      const a = arg(0);
      const m = a?.case === "bpfMapArg" ? a.value : undefined;
      return line(
        "🗺",
        "bpf_map_create",
        `${m?.MapType ?? ""} ${m?.MapName ?? ""} key size ${m?.KeySize ?? 0} value size ${m?.ValueSize ?? 0} max entries ${m?.MaxEntries ?? 0}`,
      );
    }
    case "security_file_permission": {
      if (k.args.length < 2) return line("❓", "security_file_permission", "");
      const mask = int(1);
      const path = filePath(0);
      if (mask === 0x02) return line("📝", "write", path);
      if (mask === 0x04) return line("📚", "read", path);
      return line("❓", "security_file_permission", path);
    }
    case "security_mmap_file": {
      if (k.args.length < 2) return line("❓", "security_mmap_file", "");
      const a = arg(1);
      const prot = a?.case === "uintArg" ? a.value : 0;
      const tag = `mmap-${prot & 1 ? "r" : ""}${prot & 2 ? "w" : ""}${prot & 4 ? "x" : ""}`;
      return line("📝", tag, filePath(0));
    }
    case "security_path_truncate": {
      if (k.args.length < 1) return line("❓", "security_path_truncate", "");
      const a = arg(0);
      return line("📝", "truncate", a?.case === "pathArg" ? maybeQuote(a.value.path) : "");
    }
    case "security_file_truncate":
      if (k.args.length < 1) return line("❓", "security_file_truncate", "");
      return line("📝", "truncate", filePath(0));
    default:
      return line("❓", "syscall", k.functionName);
  }
}

// unshare/clone flags reach us as whatever integer type the policy declared.
function flagsArg(a: KprobeArgument["arg"] | undefined): number | bigint {
  switch (a?.case) {
    case "intArg":
    case "uintArg":
      return a.value >>> 0;
    case "longArg":
    case "sizeArg":
      return a.value;
    default:
      return 0;
  }
}

function tracepointLine(node: string, tp: ProcessTracepoint): string {
  const p = need(tp.process);
  const info = processInfo(node, p);
  if (tp.subsys === "raw_syscalls" && tp.event === "sys_enter") {
    // tetra resolves the id through a per-arch syscall table; nsguard prints the number.
    const a = tp.args[0]?.arg;
    const id =
      a?.case === "longArg" || a?.case === "sizeArg" || a?.case === "intArg" || a?.case === "uintArg"
        ? String(a.value)
        : "";
    return withCaps(`${label("☎ ", "syscall")} ${info} ${id}`, p.cap);
  }
  return withCaps(`${label("⁉️", "tracepoint")} ${info} ${tp.subsys} ${tp.event}`, p.cap);
}

function need(p: Process | undefined): Process {
  if (p === undefined) throw new CompactEncodeError("process field is not set");
  return p;
}

function processInfo(node: string, p: Process): string {
  const source = p.pod !== undefined ? `${p.pod.namespace}/${p.pod.name}` : node;
  return `${maybeQuote(source)} ${maybeQuote(p.binary)}`;
}

const capsColumn = 120;

// tetra appends "🛑 CAP_SYS_ADMIN" right-aligned so that it ends at byte column 120.
function withCaps(line: string, caps: Capabilities | undefined): string {
  if (caps === undefined || !caps.effective.includes(CapabilitiesType.CAP_SYS_ADMIN)) return line;
  const trailer = "🛑 CAP_SYS_ADMIN";
  const width = Math.max(0, capsColumn - Buffer.byteLength(line));
  const pad = Math.max(0, width - [...trailer].length);
  return `${line} ${" ".repeat(pad)}${trailer}`;
}

function stackTraceLines(k: ProcessKprobe): string[] {
  const out: string[] = [];
  if (k.kernelStackTrace.length > 0) {
    out.push("Kernel:");
    for (const s of k.kernelStackTrace)
      out.push(`   0x${s.address.toString(16)}: ${s.symbol}+0x${s.offset.toString(16)}`);
  }
  if (k.userStackTrace.length > 0) {
    out.push("User:");
    for (const s of k.userStackTrace) {
      const symbol = s.symbol !== "" ? ` ${s.symbol}` : "";
      out.push(`   0x${s.address.toString(16)}:${symbol} (${s.module}+0x${s.offset.toString(16)})`);
    }
  }
  return out;
}

const binprmHooks = new Set([
  "bprm_check_security",
  "bprm_committed_creds",
  "bprm_committing_creds",
  "bprm_creds_for_exec",
  "bprm_creds_from_file",
]);
const fileHooks = new Set([
  "file_ioctl",
  "file_lock",
  "file_open",
  "file_post_open",
  "file_receive",
  "mmap_file",
]);

function imaPath(hook: string, first: KprobeArgument | undefined): string {
  const a = first?.arg;
  if (binprmHooks.has(hook) && a?.case === "linuxBinprmArg") return maybeQuote(a.value.path);
  if (fileHooks.has(hook) && a?.case === "fileArg") return maybeQuote(a.value.path);
  return "";
}
