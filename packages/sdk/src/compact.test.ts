import type { MessageInitShape } from "@bufbuild/protobuf";
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { CompactEncodeError, toCompact } from "./compact.js";
import { CapabilitiesType } from "./gen/tetragon/capabilities_pb.js";
import { GetEventsResponseSchema, ThrottleType } from "./gen/tetragon/events_pb.js";
import type { ProcessKprobe } from "./gen/tetragon/tetragon_pb.js";
import {
  NamespaceDirection,
  NamespaceKind,
  ProcessKprobeSchema,
  ProcessSchema,
} from "./gen/tetragon/tetragon_pb.js";
import { CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUTS } from "./namespace-flags.js";
import { seedEvent } from "./testing/seed-event.js";

type EventInit = MessageInitShape<typeof GetEventsResponseSchema>;
const ev = (init: EventInit) => create(GetEventsResponseSchema, init);

// The process of Tetragon's encoder_test.go golden cases.
const curl = create(ProcessSchema, {
  binary: "/usr/bin/curl",
  arguments: "cilium.io",
  pod: { namespace: "kube-system", name: "tetragon" },
});
const hostSh = create(ProcessSchema, { binary: "/bin/sh", arguments: "-c true" });

const kprobe = (init: MessageInitShape<typeof ProcessKprobeSchema>, process = curl): EventInit => ({
  event: { case: "processKprobe", value: create(ProcessKprobeSchema, { process, ...init }) },
  nodeName: "node-a",
});
const intArgs = (...values: number[]): ProcessKprobe["args"] =>
  values.map((v) => ({ arg: { case: "intArg", value: v } }) as ProcessKprobe["args"][number]);

describe("toCompact — Tetragon's golden strings", () => {
  it("process_exec", () => {
    expect(toCompact(ev({ event: { case: "processExec", value: { process: curl } } }))).toBe(
      "🚀 process kube-system/tetragon /usr/bin/curl cilium.io",
    );
  });
  it("process_exit with a signal", () => {
    expect(
      toCompact(ev({ event: { case: "processExit", value: { process: curl, signal: "SIGKILL" } } })),
    ).toBe("💥 exit    kube-system/tetragon /usr/bin/curl cilium.io SIGKILL");
  });
  it("unhandled kprobe", () => {
    expect(toCompact(ev(kprobe({ functionName: "unhandled_function" })))).toBe(
      "❓ syscall kube-system/tetragon /usr/bin/curl unhandled_function",
    );
  });
  it("sys_write", () => {
    expect(
      toCompact(
        ev(
          kprobe({
            functionName: "__x64_sys_write",
            args: [
              { arg: { case: "fileArg", value: { path: "/etc/password" } } },
              { arg: { case: "bytesArg", value: new Uint8Array() } },
              { arg: { case: "sizeArg", value: 1234n } },
            ],
          }),
        ),
      ),
    ).toBe("📝 write   kube-system/tetragon /usr/bin/curl /etc/password 1234 bytes");
  });
  it("--timestamps with an unset time prints the epoch", () => {
    expect(
      toCompact(ev({ event: { case: "processExec", value: { process: curl } } }), { timestamps: true }),
    ).toBe("1970-01-01T00:00:00.000000000Z 🚀 process kube-system/tetragon /usr/bin/curl cilium.io");
  });
});

describe("toCompact — the kernel's namespace verdict (namespace_changes)", () => {
  const K = NamespaceKind;
  const D = NamespaceDirection;
  const change = (kind: NamespaceKind, direction: NamespaceDirection) => ({
    kind,
    direction,
    before: 1,
    after: 2,
  });
  const withChanges = (functionName: string, changes: ReturnType<typeof change>[]) =>
    ev(kprobe({ functionName, args: intArgs(3, 0), namespaceChanges: { changes } }, hostSh));

  it.each([
    ["__x64_sys_setns", [change(K.NET, D.CONTAINER_TO_HOST)], "🔧 setns   node-a /bin/sh net → host"],
    // A pidfd enters several kinds in one call.
    [
      "__x64_sys_setns",
      [change(K.UTS, D.CONTAINER_TO_HOST), change(K.NET, D.CONTAINER_TO_HOST)],
      "🔧 setns   node-a /bin/sh net,uts → host",
    ],
    [
      "__x64_sys_setns",
      [change(K.IPC, D.HOST_TO_CONTAINER), change(K.USER, D.UNCHANGED)],
      "🔧 setns   node-a /bin/sh ipc host → container, user unchanged",
    ],
    [
      "__x64_sys_setns",
      [change(K.MNT, D.CONTAINER_TO_CONTAINER)],
      "🔧 setns   node-a /bin/sh mnt container → container",
    ],
    [
      "__x64_sys_unshare",
      [change(K.MNT, D.NEW), change(K.NET, D.NEW)],
      "🔧 unshare node-a /bin/sh new net,mnt",
    ],
    ["__x64_sys_clone3", [change(K.PID, D.NEW)], "🔧 clone   node-a /bin/sh new pid"],
  ])("%s %j", (fn, changes, line) => {
    expect(toCompact(withChanges(fn, changes))).toBe(line);
  });
});

describe("toCompact — setns and the namespace hooks", () => {
  it("the seed event", () => {
    expect(toCompact(seedEvent())).toBe("🔧 setns   default/xwing /usr/bin/nsenter ipc");
  });
  it("the seed event with timestamps", () => {
    expect(toCompact(seedEvent(), { timestamps: true })).toBe(
      "2026-01-30T18:15:20.001042828Z 🔧 setns   default/xwing /usr/bin/nsenter ipc",
    );
  });
  it.each([
    ["__x64_sys_setns", 0, "any"],
    ["__arm64_sys_setns", CLONE_NEWNS, "mnt"],
    ["__ia32_sys_setns", CLONE_NEWNET, "net"],
    ["sys_setns", CLONE_NEWPID, "pid"],
    ["__x64_sys_setns", 0x80, "time"],
    ["__x64_sys_setns", 0x10000000, "user"],
    ["__x64_sys_setns", CLONE_NEWUTS, "uts"],
    ["__x64_sys_setns", 0x2000000, "cgroup"],
    ["__x64_sys_setns", CLONE_NEWNET | CLONE_NEWUTS, ""],
    ["__x64_sys_setns", 1, ""],
  ])("%s nstype %d → %j", (fn, nstype, name) => {
    expect(toCompact(ev(kprobe({ functionName: fn, args: intArgs(3, nstype) }, hostSh)))).toBe(
      `🔧 setns   node-a /bin/sh ${name}`,
    );
  });
  it("a host process shows the node name as source", () => {
    expect(
      toCompact(ev(kprobe({ functionName: "__x64_sys_setns", args: intArgs(3, CLONE_NEWNET) }, hostSh))),
    ).toBe("🔧 setns   node-a /bin/sh net");
  });
  it("unshare lists the CLONE_NEW* flags by name", () => {
    expect(
      toCompact(
        ev(
          kprobe(
            { functionName: "__x64_sys_unshare", args: intArgs(CLONE_NEWUTS | CLONE_NEWNET | 0x400) },
            hostSh,
          ),
        ),
      ),
    ).toBe("🔧 unshare node-a /bin/sh net,uts");
  });
  it("clone and clone3, with 64-bit flag arguments", () => {
    const args: ProcessKprobe["args"] = [
      {
        arg: { case: "sizeArg", value: BigInt(CLONE_NEWPID | CLONE_NEWNS | 0x11) },
      } as ProcessKprobe["args"][number],
    ];
    expect(toCompact(ev(kprobe({ functionName: "__x64_sys_clone", args }, hostSh)))).toBe(
      "🔧 clone   node-a /bin/sh mnt,pid",
    );
    expect(toCompact(ev(kprobe({ functionName: "__arm64_sys_clone3", args }, hostSh)))).toBe(
      "🔧 clone   node-a /bin/sh mnt,pid",
    );
  });
  it("the 32-bit compat entry point is shown as the same syscall", () => {
    expect(
      toCompact(
        ev(kprobe({ functionName: "__ia32_compat_sys_setns", args: intArgs(3, CLONE_NEWNS) }, hostSh)),
      ),
    ).toBe("🔧 setns   node-a /bin/sh mnt");
  });
});

describe("toCompact — other event kinds", () => {
  it("exit without a signal prints the status", () => {
    expect(
      toCompact(
        ev({ event: { case: "processExit", value: { process: hostSh, status: 2 } }, nodeName: "n1" }),
      ),
    ).toBe('💥 exit    n1 /bin/sh "-c true" 2');
  });
  it("exec without arguments keeps tetra's trailing space", () => {
    expect(
      toCompact(
        ev({ event: { case: "processExec", value: { process: { binary: "/bin/ls" } } }, nodeName: "n1" }),
      ),
    ).toBe("🚀 process n1 /bin/ls ");
  });
  it("quotes binaries with spaces and escapes non-printables Go-style", () => {
    const p = create(ProcessSchema, { binary: "/tmp/my tool", arguments: "a\u001b[31mb" });
    expect(toCompact(ev({ event: { case: "processExec", value: { process: p } }, nodeName: "n1" }))).toBe(
      '🚀 process n1 "/tmp/my tool" "a\\x1b[31mb"',
    );
  });
  it("throttle, lsm, uprobe, tracepoint, loader, test", () => {
    expect(
      toCompact(
        ev({
          event: {
            case: "processThrottle",
            value: { type: ThrottleType.THROTTLE_START, cgroup: "/kubepods/x" },
          },
        }),
      ),
    ).toBe("🧬 throttle START /kubepods/x");
    expect(
      toCompact(ev({ event: { case: "processLsm", value: { process: curl, functionName: "file_open" } } })),
    ).toBe("🔒 LSM     kube-system/tetragon /usr/bin/curl file_open");
    expect(
      toCompact(
        ev({
          event: {
            case: "processUprobe",
            value: { process: curl, path: "/lib/libssl.so", symbol: "SSL_write" },
          },
        }),
      ),
    ).toBe("🕵️ uprobe  kube-system/tetragon /usr/bin/curl /lib/libssl.so SSL_write");
    expect(
      toCompact(
        ev({
          event: {
            case: "processTracepoint",
            value: { process: curl, subsys: "sched", event: "sched_switch" },
          },
        }),
      ),
    ).toBe("⁉️ tracepoint kube-system/tetragon /usr/bin/curl sched sched_switch");
    expect(
      toCompact(
        ev({
          event: {
            case: "processLoader",
            value: { process: curl, path: "/lib/x.so", buildid: new Uint8Array([0xab, 0x01]) },
          },
        }),
      ),
    ).toBe("🧬 loader  kube-system/tetragon /usr/bin/curl ab01 /lib/x.so");
    expect(toCompact(ev({ event: { case: "test", value: {} } }))).toBe("TEST EVENT");
  });
  it("appends CAP_SYS_ADMIN right-aligned to byte column 120", () => {
    const p = create(ProcessSchema, {
      binary: curl.binary,
      arguments: curl.arguments,
      pod: curl.pod,
      cap: { effective: [CapabilitiesType.CAP_CHOWN, CapabilitiesType.CAP_SYS_ADMIN] },
    });
    const line = toCompact(ev({ event: { case: "processExec", value: { process: p } } }));
    expect(line.startsWith("🚀 process kube-system/tetragon /usr/bin/curl cilium.io ")).toBe(true);
    expect(line.endsWith(" 🛑 CAP_SYS_ADMIN")).toBe(true);
    expect(Buffer.byteLength(line)).toBe(
      120 + 1 + Buffer.byteLength("🛑 CAP_SYS_ADMIN") - [..."🛑 CAP_SYS_ADMIN"].length,
    );
  });
  it("prints stack traces when asked", () => {
    const out = toCompact(
      ev(
        kprobe({
          functionName: "fd_install",
          args: [
            { arg: { case: "intArg", value: 3 } },
            { arg: { case: "fileArg", value: { path: "/etc/shadow" } } },
          ],
          kernelStackTrace: [{ address: 0xffffffff81000000n, offset: 0x10n, symbol: "fd_install" }],
          userStackTrace: [{ address: 0x7f00n, offset: 0x20n, module: "/lib/libc.so.6" }],
        }),
      ),
      { stackTraces: true },
    );
    expect(out.split("\n")).toEqual([
      "📬 open    kube-system/tetragon /usr/bin/curl /etc/shadow",
      "Kernel:",
      "   0xffffffff81000000: fd_install+0x10",
      "User:",
      "   0x7f00: (/lib/libc.so.6+0x20)",
    ]);
  });
  it("refuses events it cannot show", () => {
    expect(() => toCompact(ev({ event: { case: "rateLimitInfo", value: {} } }))).toThrow(CompactEncodeError);
    expect(() => toCompact(ev({ event: { case: "processExec", value: {} } }))).toThrow(
      "process field is not set",
    );
  });
});
