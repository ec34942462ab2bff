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
import { maybeQuote } from "./go-quote.js";
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
  /**
   * ANSI colours as tetra's `--color always` prints them (pkg/encoder/color.go); the caller
   * decides "auto". Default off (`--color never`).
   */
  color?: boolean;
}

/**
 * tetra's Colorer: fatih/color wraps every Sprint in `ESC[<n>m … ESC[0m`, empty strings too.
 * Without colour each one is the identity.
 */
interface Colorer {
  readonly on: boolean;
  red(s: string): string;
  green(s: string): string;
  blue(s: string): string;
  cyan(s: string): string;
  magenta(s: string): string;
  yellow(s: string): string;
}

const sgr = (on: boolean, code: number) => (s: string) => (on ? `\x1b[${code}m${s}\x1b[0m` : s);
const colorer = (on: boolean): Colorer => ({
  on,
  red: sgr(on, 31),
  green: sgr(on, 32),
  yellow: sgr(on, 33),
  blue: sgr(on, 34),
  magenta: sgr(on, 35),
  cyan: sgr(on, 36),
});

/** The event cannot be shown in compact form (tetra reports the same two cases as errors). */
export class CompactEncodeError extends Error {
  override readonly name = "CompactEncodeError";
}

/**
 * Encodes one event the way `tetra getevents -o compact` does
 * (pkg/encoder/encoder.go): `<emoji> <label padded to 7> <source> <binary> <details>`,
 * where source is `<namespace>/<pod>` or the node name. Returns the text without a final
 * newline; optional stack-trace or IMA lines follow the main line, separated by "\n".
 */
export function toCompact(event: GetEventsResponse, options: CompactOptions = {}): string {
  const c = colorer(options.color === true);
  let line = eventLine(event, c);
  if (options.timestamps) line = `${formatCompactTime(event.time)} ${line}`;
  const extra: string[] = [];
  if (options.stackTraces && event.event.case === "processKprobe")
    extra.push(...stackTraceLines(event.event.value, c));
  if (options.imaHash && event.event.case === "processLsm") {
    const lsm = event.event.value;
    const path = imaPath(lsm.functionName, lsm.args[0]);
    if (lsm.imaHash !== "" && path !== "") extra.push(`${c.green(`   ${path}`)}${c.blue(` ${lsm.imaHash}`)}`);
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

const label = (emoji: string, name: string, paint: (s: string) => string): string =>
  paint(`${emoji} ${name.padEnd(7)}`);

function eventLine(event: GetEventsResponse, c: Colorer): string {
  const e = event.event;
  const node = event.nodeName;
  switch (e.case) {
    case "test":
      return "TEST EVENT";
    case "processExec": {
      const p = need(e.value.process);
      return withCaps(
        `${label("🚀", "process", c.blue)} ${processInfo(node, p, c)} ${c.cyan(maybeQuote(p.arguments))}`,
        p.cap,
        c,
      );
    }
    case "processExit": {
      const p = need(e.value.process);
      const status = c.red(e.value.signal !== "" ? e.value.signal : String(e.value.status));
      return withCaps(
        `${label("💥", "exit", c.blue)} ${processInfo(node, p, c)} ${c.cyan(maybeQuote(p.arguments))} ${status}`,
        p.cap,
        c,
      );
    }
    case "processThrottle": {
      const t = e.value;
      const kind =
        t.type === ThrottleType.THROTTLE_START
          ? c.red("START")
          : t.type === ThrottleType.THROTTLE_STOP
            ? c.green("STOP ")
            : "";
      return `${label("🧬", "throttle", c.red)} ${kind} ${maybeQuote(t.cgroup)}`;
    }
    case "processLoader": {
      const p = need(e.value.process);
      const buildId = e.value.buildid.length > 0 ? `${Buffer.from(e.value.buildid).toString("hex")} ` : "";
      return withCaps(
        `${label("🧬", "loader", c.blue)} ${processInfo(node, p, c)} ${buildId}${c.yellow(maybeQuote(e.value.path))}`,
        p.cap,
        c,
      );
    }
    case "processKprobe":
      return kprobeLine(node, e.value, c);
    case "processTracepoint":
      return tracepointLine(node, e.value, c);
    case "processUprobe": {
      const u = e.value;
      const p = need(u.process);
      return withCaps(
        `${label("🕵️", "uprobe", c.blue)} ${processInfo(node, p, c)} ${maybeQuote(u.path)} ${maybeQuote(u.symbol)}`,
        p.cap,
        c,
      );
    }
    case "processLsm": {
      const p = need(e.value.process);
      return withCaps(
        `${label("🔒", "LSM", c.blue)} ${processInfo(node, p, c)} ${e.value.functionName}`,
        p.cap,
        c,
      );
    }
    case "processUsdt": {
      const u = e.value;
      const p = need(u.process);
      return withCaps(
        `${label("🕵️", "usdt", c.blue)} ${processInfo(node, p, c)} ${maybeQuote(u.path)} ${maybeQuote(u.provider)} ${maybeQuote(u.name)}`,
        p.cap,
        c,
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

function kprobeLine(node: string, k: ProcessKprobe, c: Colorer): string {
  const p = need(k.process);
  const info = processInfo(node, p, c);
  // tetra paints an argument cyan only when the event has it.
  const cyan = (s: string) => (s === "" ? s : c.cyan(s));
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
    withCaps([`${label(emoji, name, c.blue)} ${info}`, ...details].join(" "), p.cap, c);

  switch (cutSyscallPrefix(k.functionName)) {
    case "sys_write":
      return line("📝", "write", cyan(filePath(0)), cyan(byteCount()));
    case "sys_read":
      return line("📚", "read", cyan(filePath(0)), cyan(byteCount()));
    case "fd_install":
      return line("📬", "open", cyan(filePath(1)));
    case "sys_openat":
      return line("📬️", "openat", cyan(str(1)));
    case "sys_open":
      return line("📬️", "open", cyan(str(1)));
    case "sys_close":
      return line("📪", "close", cyan(filePath(0)));
    case "sys_mount":
      return line("💾", "mount", cyan(str(0)), cyan(str(1)));
    case "sys_pivot_root":
      return line("💾", "pivot_root", cyan(str(0)), cyan(str(1)));
    case "sys_setuid":
      return line("🔑", "setuid", k.args.length > 0 ? cyan(String(int(0))) : "");
    case "sys_clock_settime":
      return line("⏰", "clock_settime");
    case "proc_exec_connector":
      return line("🔧", "proc_exec_connector");
    // nsguard: with the kernel's namespace verdict (namespace_changes) the line says where each
    // kind went (`net → host`); without it, what tetra prints.
    case "sys_setns":
      if (k.namespaceChanges) return line("🔧", "setns", cyan(namespaceChangesText(k.namespaceChanges)));
      return line("🔧", "setns", k.args.length > 1 ? setnsNamespaceName(int(1)) : "");
    // nsguard additions: the other namespace hooks, in the same shape as setns.
    case "sys_unshare":
      if (k.namespaceChanges) return line("🔧", "unshare", cyan(namespaceChangesText(k.namespaceChanges)));
      return line("🔧", "unshare", cyan(namespaceFlagNames(flagsArg(arg(0))).join(",")));
    case "sys_clone":
    case "sys_clone3":
      if (k.namespaceChanges) return line("🔧", "clone", cyan(namespaceChangesText(k.namespaceChanges)));
      return line("🔧", "clone", cyan(namespaceFlagNames(flagsArg(arg(0))).join(",")));
    case "tcp_connect":
      return line("🔌", "connect", cyan(sock(0)));
    case "tcp_close":
      return line("🧹", "close", cyan(sock(0)));
    case "tcp_sendmsg":
      return line("📤", "sendmsg", cyan(sock(0)), `bytes ${int(1)}`);
    // Each detail only when the event carries that argument (tetra checks Get…Arg() != nil).
    case "bpf_check": {
      const a = arg(0);
      const b = a?.case === "bpfAttrArg" ? a.value : undefined;
      return line(
        "🐝",
        "bpf_load",
        b === undefined ? "" : c.cyan(`${b.ProgType} ${b.ProgName} instruction count ${b.InsnCnt}`),
      );
    }
    case "security_perf_event_alloc": {
      const a = arg(0);
      const pe = a?.case === "perfEventArg" ? a.value : undefined;
      return line("🐝", "perf_event_alloc", pe === undefined ? "" : c.cyan(`${pe.Type} ${pe.KprobeFunc}`));
    }
    case "security_bpf_map_alloc":
    case "security_bpf_map_create": {
      const a = arg(0);
      const m = a?.case === "bpfMapArg" ? a.value : undefined;
      return line(
        "🗺",
        "bpf_map_create",
        m === undefined
          ? ""
          : c.cyan(
              `${m.MapType} ${m.MapName} key size ${m.KeySize} value size ${m.ValueSize} max entries ${m.MaxEntries}`,
            ),
      );
    }
    case "security_file_permission": {
      if (k.args.length < 2) return line("❓", "security_file_permission", "");
      const mask = int(1);
      const path = cyan(filePath(0));
      if (mask === 0x02) return line("📝", "write", path);
      if (mask === 0x04) return line("📚", "read", path);
      return line("❓", "security_file_permission", path);
    }
    case "security_mmap_file": {
      if (k.args.length < 2) return line("❓", "security_mmap_file", "");
      const a = arg(1);
      const prot = a?.case === "uintArg" ? a.value : 0;
      const tag = `mmap-${prot & 1 ? "r" : ""}${prot & 2 ? "w" : ""}${prot & 4 ? "x" : ""}`;
      return line("📝", tag, cyan(filePath(0)));
    }
    case "security_path_truncate": {
      if (k.args.length < 1) return line("❓", "security_path_truncate", "");
      const a = arg(0);
      return line("📝", "truncate", cyan(a?.case === "pathArg" ? maybeQuote(a.value.path) : ""));
    }
    case "security_file_truncate":
      if (k.args.length < 1) return line("❓", "security_file_truncate", "");
      return line("📝", "truncate", cyan(filePath(0)));
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

function tracepointLine(node: string, tp: ProcessTracepoint, c: Colorer): string {
  const p = need(tp.process);
  const info = processInfo(node, p, c);
  if (tp.subsys === "raw_syscalls" && tp.event === "sys_enter") {
    // tetra resolves the id through a per-arch syscall table; nsguard prints the number.
    const a = tp.args[0]?.arg;
    const id =
      a?.case === "longArg" || a?.case === "sizeArg" || a?.case === "intArg" || a?.case === "uintArg"
        ? String(a.value)
        : "";
    return withCaps(`${label("☎ ", "syscall", c.blue)} ${info} ${id}`, p.cap, c);
  }
  return withCaps(`${label("⁉️", "tracepoint", c.blue)} ${info} ${tp.subsys} ${tp.event}`, p.cap, c);
}

function need(p: Process | undefined): Process {
  if (p === undefined) throw new CompactEncodeError("process field is not set");
  return p;
}

// tetra's Colorer.ProcessInfo: the node name is quoted when it needs it, namespace/pod are
// Kubernetes names and printed as they are.
function processInfo(node: string, p: Process, c: Colorer): string {
  const source = p.pod !== undefined ? `${p.pod.namespace}/${p.pod.name}` : maybeQuote(node);
  return `${c.green(source)} ${c.magenta(maybeQuote(p.binary))}`;
}

const capsColumn = 120;

/**
 * tetra's CapTrailorPrinter: "🛑 CAP_SYS_ADMIN" right-aligned so that it ends at byte column 120
 * (Go's len counts bytes, colour codes included; `%*s` pads by runes). In colour the trailer is
 * never empty, since an empty string painted magenta still has its codes: tetra pads every such
 * line then, and so does this.
 */
function withCaps(line: string, caps: Capabilities | undefined, c: Colorer): string {
  const sysAdmin = caps?.effective.includes(CapabilitiesType.CAP_SYS_ADMIN) === true;
  if (!sysAdmin && !c.on) return line;
  const trailer = c.magenta(sysAdmin ? "🛑 CAP_SYS_ADMIN" : "");
  const width = Math.max(0, capsColumn - Buffer.byteLength(line));
  const pad = Math.max(0, width - [...trailer].length);
  return `${line} ${" ".repeat(pad)}${trailer}`;
}

// tetra's HumanStackTrace. In colour tetra's yellow span also holds the line's "\n"; here the
// reset comes before it, which looks the same and keeps every line whole.
function stackTraceLines(k: ProcessKprobe, c: Colorer): string[] {
  const out: string[] = [];
  if (k.kernelStackTrace.length > 0) {
    out.push("Kernel:");
    for (const s of k.kernelStackTrace)
      out.push(
        `${c.green(`   0x${s.address.toString(16)}:`)}${c.blue(` ${maybeQuote(s.symbol)}`)}+${c.yellow(`0x${s.offset.toString(16)}`)}`,
      );
  }
  if (k.userStackTrace.length > 0) {
    out.push("User:");
    for (const s of k.userStackTrace) {
      const symbol = s.symbol !== "" ? c.blue(` ${maybeQuote(s.symbol)}`) : "";
      out.push(
        `${c.green(`   0x${s.address.toString(16)}:`)}${symbol}${c.yellow(` (${maybeQuote(s.module)}+0x${s.offset.toString(16)})`)}`,
      );
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
