import type { MessageInitShape } from "@bufbuild/protobuf";
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { CompactEncodeError, toCompact } from "./compact.js";
import { GetEventsResponseSchema, ThrottleType } from "./gen/tetragon/events_pb.js";
import type { KprobeArgument } from "./gen/tetragon/tetragon_pb.js";

// Golden strings of Tetragon's pkg/encoder/encoder_test.go (cilium/tetragon main, after
// a5892add0 "pkg/encoder: escape untrusted strings from events"), case by case. A Go `nil`
// argument is an empty KprobeArgument here: both have no value of any kind.

type EventInit = MessageInitShape<typeof GetEventsResponseSchema>;
type ArgInit = MessageInitShape<typeof import("./gen/tetragon/tetragon_pb.js").KprobeArgumentSchema>;
const compact = (init: EventInit, options = {}) => toCompact(create(GetEventsResponseSchema, init), options);
const pod = (namespace: string, name: string) => ({ namespace, name });
const tetragonPod = pod("kube-system", "tetragon");
const curl = { binary: "/usr/bin/curl", arguments: "cilium.io", pod: tetragonPod };
const exec = (process: object, nodeName = ""): EventInit => ({
  event: { case: "processExec", value: { process } },
  nodeName,
});
const kprobe = (functionName: string, args: ArgInit[] = [], binary = "/usr/bin/curl", p = tetragonPod) => ({
  event: {
    case: "processKprobe" as const,
    value: { process: { binary, pod: p }, functionName, args },
  },
});
const nil: ArgInit = {};
const file = (path: string): ArgInit => ({ arg: { case: "fileArg", value: { path } } });
const size = (value: bigint): ArgInit => ({ arg: { case: "sizeArg", value } });
const str = (value: string): ArgInit => ({ arg: { case: "stringArg", value } });

describe("tetra's compact encoder, golden (encoder_test.go)", () => {
  it.each<[string, EventInit, string]>([
    [
      "TestCompactEncoder_ExecEventToString host",
      exec(curl, "my-node"),
      "🚀 process kube-system/tetragon /usr/bin/curl cilium.io",
    ],
    [
      "TestCompactEncoder_ExecEventToString no pod",
      exec({ binary: "/usr/bin/curl", arguments: "cilium.io" }, "my-node"),
      "🚀 process my-node /usr/bin/curl cilium.io",
    ],
    [
      "TestCompactEncoder_ExitEventToString status",
      { event: { case: "processExit", value: { process: curl, status: 1 } } },
      "💥 exit    kube-system/tetragon /usr/bin/curl cilium.io 1",
    ],
    [
      "TestCompactEncoder_ExitEventToString signal",
      { event: { case: "processExit", value: { process: curl, signal: "SIGKILL" } } },
      "💥 exit    kube-system/tetragon /usr/bin/curl cilium.io SIGKILL",
    ],
    [
      "TestCompactEncoder_KprobeEventToString unknown function",
      kprobe("unhandled_function"),
      "❓ syscall kube-system/tetragon /usr/bin/curl unhandled_function",
    ],
    [
      "TestCompactEncoder_KprobeOpenEventToString no args",
      kprobe("fd_install"),
      "📬 open    kube-system/tetragon /usr/bin/curl ",
    ],
    [
      "TestCompactEncoder_KprobeOpenEventToString",
      kprobe("fd_install", [nil, file("/etc/password")]),
      "📬 open    kube-system/tetragon /usr/bin/curl /etc/password",
    ],
    [
      "TestCompactEncoder_KprobeWriteEventToString no args",
      kprobe("__x64_sys_write"),
      "📝 write   kube-system/tetragon /usr/bin/curl  ",
    ],
    [
      "TestCompactEncoder_KprobeWriteEventToString",
      kprobe("__x64_sys_write", [file("/etc/password"), nil, size(1234n)]),
      "📝 write   kube-system/tetragon /usr/bin/curl /etc/password 1234 bytes",
    ],
    [
      "TestCompactEncoder_KprobeCloseEventToString no args",
      kprobe("__x64_sys_close"),
      "📪 close   kube-system/tetragon /usr/bin/curl ",
    ],
    [
      "TestCompactEncoder_KprobeCloseEventToString",
      kprobe("__x64_sys_close", [file("/etc/password")]),
      "📪 close   kube-system/tetragon /usr/bin/curl /etc/password",
    ],
    [
      "TestCompactEncoder_KprobeBPFEventToString no args",
      kprobe("bpf_check", [], "/usr/bin/bpftool"),
      "🐝 bpf_load kube-system/tetragon /usr/bin/bpftool ",
    ],
    [
      "TestCompactEncoder_KprobeBPFEventToString",
      kprobe(
        "bpf_check",
        [
          {
            arg: {
              case: "bpfAttrArg",
              value: { ProgType: "BPF_PROG_TYPE_KPROBE", InsnCnt: 2048, ProgName: "amazing-program" },
            },
          },
        ],
        "/usr/bin/bpftool",
      ),
      "🐝 bpf_load kube-system/tetragon /usr/bin/bpftool BPF_PROG_TYPE_KPROBE amazing-program instruction count 2048",
    ],
    [
      "TestCompactEncoder_KprobePerfEventAllocEventToString no args",
      kprobe("security_perf_event_alloc", [], "/usr/bin/bpftool"),
      "🐝 perf_event_alloc kube-system/tetragon /usr/bin/bpftool ",
    ],
    [
      "TestCompactEncoder_KprobePerfEventAllocEventToString",
      kprobe(
        "security_perf_event_alloc",
        [
          {
            arg: {
              case: "perfEventArg",
              value: {
                KprobeFunc: "commit_creds",
                Type: "PERF_TYPE_TRACEPOINT",
                Config: 1n,
                ProbeOffset: 0n,
              },
            },
          },
        ],
        "/usr/bin/bpftool",
      ),
      "🐝 perf_event_alloc kube-system/tetragon /usr/bin/bpftool PERF_TYPE_TRACEPOINT commit_creds",
    ],
    ...(["security_bpf_map_alloc", "security_bpf_map_create"] as const).flatMap(
      (fn): [string, EventInit, string][] => [
        [
          `TestCompactEncoder_KprobeBPFMap${fn} no args`,
          kprobe(fn, [], "/usr/bin/bpftool"),
          "🗺 bpf_map_create kube-system/tetragon /usr/bin/bpftool ",
        ],
        [
          `TestCompactEncoder_KprobeBPFMap ${fn}`,
          kprobe(
            fn,
            [
              {
                arg: {
                  case: "bpfMapArg",
                  value: {
                    MapType: "BPF_MAP_TYPE_HASH",
                    KeySize: 8,
                    ValueSize: 8,
                    MaxEntries: 1024,
                    MapName: "amazing-map",
                  },
                },
              },
            ],
            "/usr/bin/bpftool",
          ),
          "🗺 bpf_map_create kube-system/tetragon /usr/bin/bpftool BPF_MAP_TYPE_HASH amazing-map key size 8 value size 8 max entries 1024",
        ],
      ],
    ),
  ])("%s", (_, init, golden) => {
    expect(compact(init)).toBe(golden);
  });

  it("TestCompactEncoder_KprobeEventToString: no process is an error", () => {
    expect(() =>
      compact({ event: { case: "processKprobe", value: { functionName: "unhandled_function" } } }),
    ).toThrow(CompactEncodeError);
  });

  it("TestCompactEncoder_Encode / EncodeWithTimestamp", () => {
    // Encode writes the line plus "\n" (the CLI adds it); the epoch for an unset time.
    expect(compact(exec(curl))).toBe("🚀 process kube-system/tetragon /usr/bin/curl cilium.io");
    expect(compact(exec(curl), { timestamps: true })).toBe(
      "1970-01-01T00:00:00.000000000Z 🚀 process kube-system/tetragon /usr/bin/curl cilium.io",
    );
  });
});

describe("tetra's compact encoder escapes untrusted strings (TestCompactEncoder_EscapeSpecialCharacters)", () => {
  const at = (p: string, n: string) => pod(p, n);
  it.each<[string, EventInit, string, string]>([
    [
      "binary",
      exec({ binary: "/usr/bin/\x1b[31mmalicious\x1b[0m", arguments: "normal-args", pod: tetragonPod }),
      '"/usr/bin/\\x1b[31mmalicious\\x1b[0m"',
      "\x1b",
    ],
    [
      "args",
      exec({ binary: "/bin/sh", arguments: "echo \x00null\rbyte", pod: at("default", "pod") }),
      '"echo \\x00null\\rbyte"',
      "\r",
    ],
    [
      "hostname",
      exec({ binary: "/usr/bin/test", arguments: "args" }, "host\nwith\nnewlines"),
      '"host\\nwith\\nnewlines"',
      "host\nwith",
    ],
    [
      "file",
      kprobe("fd_install", [nil, file("/tmp/file\nwith\nnewlines")], "/usr/bin/cat", at("default", "test")),
      '"/tmp/file\\nwith\\nnewlines"',
      "file\nwith",
    ],
    [
      "cgroup",
      {
        event: {
          case: "processThrottle",
          value: { type: ThrottleType.THROTTLE_START, cgroup: "/sys/fs/cgroup\nmalicious" },
        },
      },
      '"/sys/fs/cgroup\\nmalicious"',
      "cgroup\nmalicious",
    ],
    [
      "loader",
      {
        event: {
          case: "processLoader",
          value: {
            process: { binary: "/usr/bin/loader", pod: at("default", "test") },
            path: "/lib/evil\x1b[31m.so",
          },
        },
      },
      '"/lib/evil\\x1b[31m.so"',
      "\x1b",
    ],
    [
      "stringarg",
      kprobe("sys_openat", [nil, str("/etc/bad\nfile")], "/usr/bin/cat", at("default", "test")),
      '"/etc/bad\\nfile"',
      "bad\nfile",
    ],
    [
      "filearg",
      kprobe("__x64_sys_write", [file("/var/log/bad\rfile")], "/usr/bin/write", at("default", "test")),
      '"/var/log/bad\\rfile"',
      "\r",
    ],
    [
      "patharg",
      kprobe(
        "security_path_truncate",
        [{ arg: { case: "pathArg", value: { path: "/data/bad\nfile" } } } as KprobeArgument],
        "/usr/bin/truncate",
        at("default", "test"),
      ),
      '"/data/bad\\nfile"',
      "bad\nfile",
    ],
    [
      "uprobe",
      {
        event: {
          case: "processUprobe",
          value: {
            process: { binary: "/usr/bin/test", pod: at("default", "test") },
            path: "/lib/\x1b[31mevil\x1b[0m.so",
            symbol: "function_name",
          },
        },
      },
      '"/lib/\\x1b[31mevil\\x1b[0m.so"',
      "\x1b",
    ],
    [
      "symbol",
      {
        event: {
          case: "processUprobe",
          value: {
            process: { binary: "/usr/bin/test", pod: at("default", "test") },
            path: "/lib/test.so",
            symbol: "func\nname",
          },
        },
      },
      '"func\\nname"',
      "func\nname",
    ],
    [
      "usdt",
      {
        event: {
          case: "processUsdt",
          value: {
            process: { binary: "/usr/bin/test", pod: at("default", "test") },
            path: "/usr/lib/bad\x00path",
            provider: "provider",
            name: "probe",
          },
        },
      },
      '"/usr/lib/bad\\x00path"',
      "\x00",
    ],
  ])("%s", (_, init, contains, notContains) => {
    const line = compact(init);
    expect(line).toContain(contains);
    expect(line).not.toContain(notContains);
  });
});

describe("tetra's colours (--color always, pkg/encoder/color.go)", () => {
  const blue = (s: string) => `\x1b[34m${s}\x1b[0m`;
  const green = (s: string) => `\x1b[32m${s}\x1b[0m`;
  const yellow = (s: string) => `\x1b[33m${s}\x1b[0m`;
  const magenta = (s: string) => `\x1b[35m${s}\x1b[0m`;
  const cyan = (s: string) => `\x1b[36m${s}\x1b[0m`;
  const red = (s: string) => `\x1b[31m${s}\x1b[0m`;
  // tetra's CapTrailorPrinter sees a painted empty trailer as non-empty and pads to byte 120.
  const padded = (line: string, trailer = magenta("")) =>
    `${line} ${" ".repeat(Math.max(0, 120 - Buffer.byteLength(line) - [...trailer].length))}${trailer}`;

  it("exit: label blue, pod green, binary magenta, arguments cyan, status red", () => {
    const line = `${blue("💥 exit   ")} ${green("kube-system/tetragon")} ${magenta("/usr/bin/curl")} ${cyan("cilium.io")} ${red("SIGKILL")}`;
    expect(
      compact(
        { event: { case: "processExit", value: { process: curl, signal: "SIGKILL" } } },
        { color: true },
      ),
    ).toBe(padded(line));
  });

  it("write: the file and byte count cyan; throttle red START", () => {
    const line = `${blue("📝 write  ")} ${green("kube-system/tetragon")} ${magenta("/usr/bin/curl")} ${cyan("/etc/password")} ${cyan("1234 bytes")}`;
    expect(
      compact(kprobe("__x64_sys_write", [file("/etc/password"), nil, size(1234n)]), { color: true }),
    ).toBe(padded(line));
    expect(
      compact(
        { event: { case: "processThrottle", value: { type: ThrottleType.THROTTLE_START, cgroup: "/k" } } },
        { color: true },
      ),
    ).toBe(`${red("🧬 throttle")} ${red("START")} /k`);
  });

  it("stack traces: address green, symbol blue, offset yellow", () => {
    const init = kprobe("unhandled_function");
    Object.assign(init.event.value, {
      kernelStackTrace: [{ address: 0xffffn, symbol: "do_sys", offset: 0x10n }],
      userStackTrace: [{ address: 0xabn, symbol: "main", module: "/bin/x", offset: 0x2n }],
    });
    const lines = compact(init, { color: true, stackTraces: true }).split("\n").slice(1);
    expect(lines).toEqual([
      "Kernel:",
      `${green("   0xffff:")}${blue(" do_sys")}+${yellow("0x10")}`,
      "User:",
      `${green("   0xab:")}${blue(" main")}${yellow(" (/bin/x+0x2)")}`,
    ]);
  });
});
