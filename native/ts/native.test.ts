// SPDX-License-Identifier: Apache-2.0
// Pure tier: needs no root, no BPF objects, no kernel features.
import { readFileSync, readlinkSync } from "node:fs";
import * as contract from "@nsguard/kernel-contract";
import { describe, expect, it } from "vitest";
import {
  BpfError,
  BpfObject,
  bootClockOffsetNs,
  bumpMemlock,
  hostNamespaceInums,
  isBpfError,
  libbpfVersion,
  nativeConstants,
  RecordBatch,
} from "./index.js";

/** A zeroed sample of `size` bytes with the common header's op and size set. */
function sample(op: number, size: number, claimedSize = size): Uint8Array {
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, op, true);
  if (size >= 8) view.setUint32(4, claimedSize, true);
  return bytes;
}

describe("module", () => {
  it("loads and reports the libbpf it runs with", () => {
    expect(libbpfVersion()).toMatch(/^\d+\.\d+$/);
  });

  it("exposes the header's limits and record sizes", () => {
    expect(nativeConstants.MAX_SELECTORS).toBe(5);
    expect(nativeConstants.MAX_PID_VALUES).toBe(4);
    expect(nativeConstants.recordSizes.header).toBe(16);
    expect(nativeConstants.ops).toEqual({ exec: 1, clone: 2, exit: 3, syscall: 4 });
  });

  it("compiled the same header the generated contract (@nsguard/kernel-contract) was made from", () => {
    // The addon's constants are the header as its compiler saw it; the generated file must agree,
    // or it is stale (regenerate: pnpm --filter @nsguard/kernel-contract run generate).
    const byPrefix = (prefix: string) =>
      Object.fromEntries(
        Object.entries(contract)
          .filter(([k]) => k.startsWith(prefix))
          .map(([k, v]) => [k.slice(prefix.length), v]),
      );
    const C = nativeConstants;
    for (const key of [
      "COMM_LEN",
      "CGROUP_NAME_LEN",
      "FILENAME_LEN",
      "CWD_LEN",
      "ARGS_LEN",
      "SYSCALL_ARGS",
    ] as const) {
      expect(C[key], key).toBe(byPrefix("NSGUARD_")[key]);
    }
    expect([C.MAX_SELECTORS, C.MAX_PID_VALUES, C.FOLLOW_DEPTH, C.CNT_MAX]).toEqual([
      contract.NSGUARD_MAX_SELECTORS,
      contract.NSGUARD_MAX_PID_VALUES,
      contract.NSGUARD_FOLLOW_DEPTH,
      contract.NSGUARD_CNT_MAX,
    ]);
    expect([C.MAX_ARG_FILTERS, C.MAX_ARG_VALUES]).toEqual([
      contract.NSGUARD_MAX_ARG_FILTERS,
      contract.NSGUARD_MAX_ARG_VALUES,
    ]);
    const upper = (o: Record<string, number>) =>
      Object.fromEntries(
        Object.entries(o).map(([k, v]) => [k.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase(), v]),
      );
    expect(upper(C.ops)).toEqual(byPrefix("NSGUARD_OP_"));
    expect(C.actions).toEqual(byPrefix("NSGUARD_ACTION_"));
    expect(C.processFlags).toEqual(byPrefix("NSGUARD_FLAG_"));
    expect(upper(C.fdKinds)).toEqual(byPrefix("NSGUARD_FD_"));
    expect(C.syscallFlags).toEqual({
      COMPAT: contract.NSGUARD_SYSCALL_COMPAT,
      CLONE3_FLAGS: contract.NSGUARD_SYSCALL_CLONE3_FLAGS,
    });
    expect(upper(C.nsCalls)).toEqual(byPrefix("NSGUARD_NS_CALL_"));
    expect(C.argOps).toEqual({
      Equal: contract.NSGUARD_ARG_EQUAL,
      NotEqual: contract.NSGUARD_ARG_NOT_EQUAL,
      Mask: contract.NSGUARD_ARG_MASK,
      GT: contract.NSGUARD_ARG_GT,
      LT: contract.NSGUARD_ARG_LT,
    });
    const slots = Object.keys(contract.enums.nsguard_ns_index).filter((k) => k !== "NSGUARD_NS_COUNT");
    expect(upper(C.nsIndex)).toEqual(
      Object.fromEntries(
        slots.map((k) => [
          k.slice("NSGUARD_NS_".length),
          contract.enums.nsguard_ns_index[k as "NSGUARD_NS_UTS"],
        ]),
      ),
    );

    const S = contract.structs;
    expect(C.recordSizes).toEqual({
      header: S.nsguard_header.size,
      exec: S.nsguard_exec_event.size,
      clone: S.nsguard_clone_event.size,
      exit: S.nsguard_exit_event.size,
      syscall: S.nsguard_syscall_event.size,
      proc: S.nsguard_proc.size,
      hook: S.nsguard_hook.size,
    });
    const structOf: Record<keyof typeof C.layout, keyof typeof S> = {
      header: "nsguard_header",
      processKey: "nsguard_process_key",
      task: "nsguard_task",
      exec: "nsguard_exec_event",
      clone: "nsguard_clone_event",
      creds: "nsguard_creds",
      exit: "nsguard_exit_event",
      syscall: "nsguard_syscall_event",
    };
    for (const [name, offsets] of Object.entries(C.layout)) {
      const fields: Record<string, { offset: number }> = S[structOf[name as keyof typeof C.layout]].fields;
      for (const [field, offset] of Object.entries(offsets))
        expect(offset, `${name}.${field}`).toBe(fields[field]?.offset);
    }
  });

  it("hostNamespaceInums: the kernel's initial namespaces, from kernel BTF — the ones this test runs in", () => {
    const inum = (kind: string) => Number(/\[(\d+)\]/.exec(readlinkSync(`/proc/self/ns/${kind}`))?.[1]);
    // CI and the dev shell run in the initial namespaces (/proc/1/ns is unreadable here, so this
    // process stands in for "the host").
    expect(hostNamespaceInums()).toEqual({
      uts: inum("uts"),
      ipc: inum("ipc"),
      mnt: inum("mnt"),
      pid: inum("pid"),
      pidForChildren: inum("pid_for_children"),
      net: inum("net"),
      time: inum("time"),
      timeForChildren: inum("time_for_children"),
      cgroup: inum("cgroup"),
      user: inum("user"),
    });
  });

  it("bootClockOffsetNs is wall clock minus time since boot", () => {
    const uptimeS = Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]);
    const expected = BigInt(Date.now()) * 1_000_000n - BigInt(Math.round(uptimeS * 1e9));
    const diff = bootClockOffsetNs() - expected;
    // /proc/uptime has 10 ms resolution; allow for that plus scheduling noise.
    expect(diff < 0n ? -diff : diff).toBeLessThan(100_000_000n);
  });

  it("bumpMemlock never throws and says what it got", () => {
    const r = bumpMemlock();
    expect(typeof r.ok).toBe("boolean");
    if (!r.ok) expect(r.code).toMatch(/^E[A-Z0-9]+$/);
  });
});

describe("BpfError", () => {
  it("is thrown by open() of a missing file, with op and errno name", () => {
    let caught: unknown;
    try {
      BpfObject.open("/nonexistent.o");
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(BpfError);
    expect(isBpfError(caught)).toBe(true);
    const err = caught as BpfError;
    expect(err.op).toBe("open");
    expect(err.code).toBe("ENOENT");
    expect(err.errno).toBe(2);
    expect(err.name).toBe("BpfError");
    expect(err.message).toContain("/nonexistent.o");
    expect(Object.keys(err)).not.toContain("name");
  });

  it("is thrown for a file that is not an ELF object", () => {
    expect(() => BpfObject.open("/proc/self/status")).toThrowError(
      expect.objectContaining({ op: "open", name: "BpfError" }),
    );
  });

  it("isBpfError recognises the shape and rejects other errors", () => {
    expect(isBpfError(new Error("x"))).toBe(false);
    expect(isBpfError({ name: "BpfError", code: "EPERM", errno: 1, op: "load" })).toBe(false);
    const e = new BpfError("m", { code: "EPERM", errno: 1, op: "load", verifierLog: "log" });
    expect(e.verifierLog).toBe("log");
    expect(isBpfError(e)).toBe(true);
  });
});

const C = nativeConstants;
const L = C.layout;
const sizes = C.recordSizes;

/** Builds one record from the exported layout (what the BPF side writes), little-endian like x86/arm64. */
class Rec {
  readonly bytes: Uint8Array;
  readonly #dv: DataView;
  constructor(op: keyof typeof C.ops, size: number = sizes[op]) {
    this.bytes = new Uint8Array(size);
    this.#dv = new DataView(this.bytes.buffer);
    this.u32(L.header.op, C.ops[op]).u32(L.header.size, size);
  }
  u16(at: number, v: number): this {
    this.#dv.setUint16(at, v, true);
    return this;
  }
  u32(at: number, v: number): this {
    this.#dv.setUint32(at, v, true);
    return this;
  }
  i32(at: number, v: number): this {
    this.#dv.setInt32(at, v, true);
    return this;
  }
  u64(at: number, v: bigint): this {
    this.#dv.setBigUint64(at, v, true);
    return this;
  }
  /** Raw bytes (strings as UTF-8; escapes for NULs and invalid bytes). */
  raw(at: number, s: string | number[]): this {
    this.bytes.set(typeof s === "string" ? new TextEncoder().encode(s) : s, at);
    return this;
  }
  /** A task with every field distinct, at byte `at`. */
  task(at: number, seed: number): this {
    const T = L.task;
    this.u32(at + T.key + L.processKey.pid, seed + 1).u64(
      at + T.key + L.processKey.ktime,
      2n ** 60n + BigInt(seed),
    );
    this.u32(at + T.pid, seed + 2)
      .u32(at + T.tid, seed + 3)
      .u32(at + T.ppid, seed + 4)
      .u32(at + T.nspid, seed + 5);
    this.u32(at + T.uid, seed + 6)
      .u32(at + T.euid, seed + 7)
      .u32(at + T.gid, seed + 8)
      .u32(at + T.auid, 4294967295);
    this.u64(at + T.cgroup_id, 2n ** 63n + BigInt(seed));
    for (let i = 0; i < 10; i++) this.u32(at + T.ns + 4 * i, 4026531000 + i);
    return this.raw(at + T.comm, "nsenter\0junk");
  }
}

function batchOf(...recs: (Rec | Uint8Array)[]) {
  return RecordBatch.fromSamples(recs.map((r) => (r instanceof Rec ? r.bytes : r)));
}

const expectedTask = (seed: number) => ({
  key: { pid: seed + 1, ktime: 2n ** 60n + BigInt(seed) },
  pid: seed + 2,
  tid: seed + 3,
  ppid: seed + 4,
  nspid: seed + 5,
  uid: seed + 6,
  euid: seed + 7,
  gid: seed + 8,
  auid: 4294967295,
  cgroupId: 2n ** 63n + BigInt(seed),
  // tetragon.Namespaces order = enum nsguard_ns_index order.
  ns: {
    uts: 4026531000,
    ipc: 4026531001,
    mnt: 4026531002,
    pid: 4026531003,
    pidForChildren: 4026531004,
    net: 4026531005,
    time: 4026531006,
    timeForChildren: 4026531007,
    cgroup: 4026531008,
    user: 4026531009,
  },
  comm: "nsenter",
});

describe("record layout (constants.layout, offsetof on the header)", () => {
  it("ends every record struct with its last field", () => {
    expect(L.syscall.ns_target + 4 * Object.keys(C.nsIndex).length).toBe(sizes.syscall);
    expect(L.syscall.flags + 4).toBe(L.syscall.ns_kinds);
    expect(L.exec.cgroup_name + C.CGROUP_NAME_LEN).toBe(sizes.exec);
    expect(L.exit.exit_code + 8).toBe(sizes.exit); // + pad
    expect(L.clone.creds + L.creds.cap_inheritable + 8).toBe(sizes.clone);
    expect(L.exec.creds + L.creds.cap_inheritable + 8).toBe(L.exec.filename);
    expect(L.task.comm + C.COMM_LEN).toBe(L.syscall.hook_id - L.syscall.task);
    expect(L.syscall.args + 8 * C.SYSCALL_ARGS).toBe(L.syscall.fd_kind);
  });
});

describe("RecordBatch (the reader's validation + the JS decoder)", () => {
  it("counts short, zeroed, unknown and over-claiming records as malformed", () => {
    const { batch, malformed } = batchOf(
      new Uint8Array(4), // shorter than the header
      new Uint8Array(sizes.syscall), // op 0 is reserved
      sample(99, 64), // unknown op
      sample(C.ops.syscall, sizes.syscall - 8), // short for its op
      sample(C.ops.exit, sizes.exit, sizes.exit + 8), // hdr.size past the sample
      sample(C.ops.clone, sizes.clone, 0), // hdr.size 0
    );
    expect(batch.length).toBe(0);
    expect(batch.decodeAll()).toEqual([]);
    expect(malformed).toBe(6);
  });

  it("decodes well-formed zeroed records into RawEvent shapes", () => {
    const { batch, malformed } = batchOf(
      sample(C.ops.clone, sizes.clone),
      sample(C.ops.exit, sizes.exit),
      sample(C.ops.syscall, sizes.syscall),
      sample(C.ops.exec, sizes.exec),
      // Longer than the struct is fine (a newer BPF side may append fields).
      sample(C.ops.exit, sizes.exit + 16),
    );
    expect(malformed).toBe(0);
    expect(batch.length).toBe(5);
    expect([0, 1, 2, 3, 4].map((i) => batch.op(i))).toEqual(["clone", "exit", "syscall", "exec", "exit"]);
    const events = batch.decodeAll();
    const [clone, exit, syscall, exec] = events;
    const zeroCreds = {
      uid: 0,
      gid: 0,
      euid: 0,
      egid: 0,
      suid: 0,
      sgid: 0,
      fsuid: 0,
      fsgid: 0,
      securebits: 0,
      capPermitted: 0n,
      capEffective: 0n,
      capInheritable: 0n,
    };
    expect(clone).toEqual({
      op: "clone",
      ktime: 0n,
      parent: { pid: 0, ktime: 0n },
      flags: 0,
      creds: zeroCreds,
      task: {
        key: { pid: 0, ktime: 0n },
        pid: 0,
        tid: 0,
        ppid: 0,
        nspid: 0,
        uid: 0,
        euid: 0,
        gid: 0,
        auid: 0,
        cgroupId: 0n,
        ns: {
          uts: 0,
          ipc: 0,
          mnt: 0,
          pid: 0,
          pidForChildren: 0,
          net: 0,
          time: 0,
          timeForChildren: 0,
          cgroup: 0,
          user: 0,
        },
        comm: "",
      },
    });
    expect(exit).toMatchObject({ op: "exit", exitCode: 0 });
    expect(syscall).toMatchObject({
      hookId: 0,
      syscallNr: 0,
      action: 0,
      selector: 0,
      args: [0n, 0n, 0n, 0n, 0n, 0n],
      fdKind: "unknown",
      fdNsInum: 0,
      signalErr: 0,
      compat: false,
    });
    expect(exec).toMatchObject({
      flags: 0,
      filename: "",
      args: [],
      cwd: "",
      cgroupName: "",
      creds: zeroCreds,
    });
  });

  it("rejects non-Uint8Array samples with a TypeError", () => {
    expect(() => RecordBatch.fromSamples(["x" as unknown as Uint8Array])).toThrow(TypeError);
  });

  it("decodes every field of clone and exit records", () => {
    const clone = new Rec("clone").u64(L.header.ktime, 123456789012345678n).task(L.clone.task, 100);
    clone.u32(L.clone.parent + L.processKey.pid, 77).u64(L.clone.parent + L.processKey.ktime, 88n);
    clone.u32(L.clone.flags, C.processFlags.CLONE | C.processFlags.IN_INIT_TREE);
    const CR = L.creds;
    const at = L.clone.creds;
    clone
      .u32(at + CR.uid, 1)
      .u32(at + CR.gid, 2)
      .u32(at + CR.euid, 3)
      .u32(at + CR.egid, 4)
      .u32(at + CR.suid, 5)
      .u32(at + CR.sgid, 6)
      .u32(at + CR.fsuid, 7)
      .u32(at + CR.fsgid, 8)
      .u32(at + CR.securebits, 0x11)
      .u64(at + CR.cap_permitted, 0x1_ffff_ffffn)
      .u64(at + CR.cap_effective, 0x2n)
      .u64(at + CR.cap_inheritable, 1n << 40n);
    const exit = new Rec("exit")
      .u64(L.header.ktime, 5n)
      .task(L.exit.task, 200)
      .u32(L.exit.exit_code, 3 << 8);
    const { batch } = batchOf(clone, exit);
    expect(batch.decode(0)).toEqual({
      op: "clone",
      ktime: 123456789012345678n,
      task: expectedTask(100),
      parent: { pid: 77, ktime: 88n },
      flags: 0x4000 | 0x2000000,
      creds: {
        uid: 1,
        gid: 2,
        euid: 3,
        egid: 4,
        suid: 5,
        sgid: 6,
        fsuid: 7,
        fsgid: 8,
        securebits: 0x11,
        capPermitted: 0x1_ffff_ffffn,
        capEffective: 0x2n,
        capInheritable: 1n << 40n,
      },
    });
    expect(batch.decode(1)).toEqual({ op: "exit", ktime: 5n, task: expectedTask(200), exitCode: 768 });
  });

  describe("exec strings", () => {
    const E = L.exec;
    const exec = (fill: (r: Rec) => void) => {
      const r = new Rec("exec").task(E.task, 0);
      fill(r);
      const ev = batchOf(r).batch.decode(0);
      if (ev.op !== "exec") throw new Error(ev.op);
      return ev;
    };

    it("clamps strings by *_len and cuts them at the first NUL", () => {
      const ev = exec((r) =>
        r
          .raw(E.filename, "/usr/bin/nsenter-and-more")
          .u16(E.filename_len, "/usr/bin/nsenter".length)
          .raw(E.cgroup_name, "cri-containerd-abc\0def")
          .u16(E.cgroup_name_len, 22),
      );
      expect(ev.filename).toBe("/usr/bin/nsenter");
      expect(ev.cgroupName).toBe("cri-containerd-abc");
    });

    it("clamps a *_len past its array to the array", () => {
      const name = "c".repeat(C.CGROUP_NAME_LEN);
      const ev = exec((r) => r.raw(E.cgroup_name, name).u16(E.cgroup_name_len, 60000));
      expect(ev.cgroupName).toBe(name);
    });

    it("replaces invalid UTF-8 with U+FFFD and keeps valid multi-byte text", () => {
      const ev = exec((r) =>
        r.raw(E.filename, [0x61, 0xff, 0x62, 0xc3, 0xa9, 0xe2, 0x82]).u16(E.filename_len, 7),
      );
      expect(ev.filename).toBe("a\uFFFDbé\uFFFD");
    });

    it("drops argv[0], keeps empty arguments and a cut last argument", () => {
      const args = "/usr/bin/nsenter\0--net=/proc/1/ns/net\0\0/usr/bin/tru";
      const ev = exec((r) => r.raw(E.args, args).u16(E.args_len, new TextEncoder().encode(args).length));
      expect(ev.args).toEqual(["--net=/proc/1/ns/net", "", "/usr/bin/tru"]);
      const whole = exec((r) => r.raw(E.args, "sh\0-c\0x\0").u16(E.args_len, 8));
      expect(whole.args).toEqual(["-c", "x"]);
      const argv0 = exec((r) => r.raw(E.args, "true\0").u16(E.args_len, 5));
      expect(argv0.args).toEqual([]);
    });

    it("clamps args_len to ARGS_LEN", () => {
      const long = `a\0${"b".repeat(C.ARGS_LEN)}`;
      const ev = exec((r) => r.raw(E.args, long.slice(0, C.ARGS_LEN)).u16(E.args_len, 60000));
      expect(ev.args).toEqual(["b".repeat(C.ARGS_LEN - 2)]);
    });

    it("builds cwd from innermost-first components", () => {
      const cwd = (s: string, flags = 0) =>
        exec((r) => r.raw(E.cwd, s).u16(E.cwd_len, s.length).u32(E.flags, flags)).cwd;
      expect(cwd("bin\0local\0usr\0")).toBe("/usr/local/bin");
      expect(cwd("tmp\0")).toBe("/tmp");
      // Ran out of buffer: the cut outermost piece is dropped, and "..." says so.
      expect(cwd("bin\0local\0us")).toBe(".../local/bin");
      expect(cwd("")).toBe("");
      expect(cwd("", C.processFlags.ROOTCWD)).toBe("/");
      expect(cwd("bin\0usr\0", C.processFlags.ERROR_CWD)).toBe("");
      const ev = exec((r) => r.u32(E.flags, C.processFlags.EXECVE | C.processFlags.TRUNC_ARGS));
      expect(ev.flags).toBe(C.processFlags.EXECVE | C.processFlags.TRUNC_ARGS);
    });
  });

  describe("syscall records", () => {
    const S = L.syscall;
    const syscallRec = (seed: number) => {
      const r = new Rec("syscall").u64(L.header.ktime, 1000n + BigInt(seed)).task(S.task, seed);
      r.u32(S.hook_id, 7 + seed)
        .u32(S.syscall_nr, 308)
        .u32(S.action, C.actions.SIGKILL)
        .u32(S.selector, 2);
      for (let n = 0; n < C.SYSCALL_ARGS; n++) r.u64(S.args + 8 * n, 2n ** 64n - 1n - BigInt(n + seed));
      r.u32(S.fd_kind, C.fdKinds.nsfs).u32(S.fd_ns_inum, 4026531840).i32(S.signal_err, -3);
      r.u32(S.ns_kinds, 0b100100).u32(S.ns_created, 0b100).u32(S.ns_to_host, 0b100000).u32(S.ns_from_host, 1);
      for (let i = 0; i < 10; i++) r.u32(S.ns_target + 4 * i, 4026532000 + i);
      return r.u32(S.flags, seed % 2 ? C.syscallFlags.COMPAT : 0);
    };

    it("decode() reads every field", () => {
      const { batch } = batchOf(syscallRec(1));
      expect(batch.decode(0)).toEqual({
        op: "syscall",
        ktime: 1001n,
        task: expectedTask(1),
        hookId: 8,
        syscallNr: 308,
        action: C.actions.SIGKILL,
        selector: 2,
        args: [0, 1, 2, 3, 4, 5].map((n) => 2n ** 64n - 2n - BigInt(n)),
        fdKind: "nsfs",
        fdNsInum: 4026531840,
        signalErr: -3,
        compat: true,
        nsChange: {
          kinds: 0b100100,
          created: 0b100,
          toHost: 0b100000,
          fromHost: 1,
          target: Array.from({ length: 10 }, (_, i) => 4026532000 + i),
          // The caller's namespaces before the call are the task's, in slot order.
          before: Object.values(expectedTask(1).ns),
        },
        // A record of the plain size: its hook reads no strings.
        strings: [],
      });
    });

    it("the view reads the same fields in place, one object repositioned", () => {
      const { batch } = batchOf(syscallRec(0), new Rec("exit"), syscallRec(1));
      for (const i of [0, 2]) {
        const raw = batch.decode(i);
        if (raw.op !== "syscall") throw new Error(raw.op);
        const v = batch.syscall(i);
        expect({
          ktime: v.ktime,
          hookId: v.hookId,
          syscallNr: v.syscallNr,
          action: v.action,
          selector: v.selector,
          compat: v.compat,
          fdKind: v.fdKind,
          fdNsInum: v.fdNsInum,
          signalErr: v.signalErr,
          nsKinds: v.nsKinds,
          nsToHost: v.nsToHost,
          nsFromHost: v.nsFromHost,
          nsChange: v.nsChange(),
          args: [0, 1, 2, 3, 4, 5].map((n) => v.arg(n)),
          pid: v.pid,
          tid: v.tid,
          nspid: v.nspid,
          uid: v.uid,
          auid: v.auid,
          keyPid: v.keyPid,
          keyKtime: v.keyKtime,
          cgroupId: v.cgroupId,
          task: v.task(),
        }).toEqual({
          ktime: raw.ktime,
          hookId: raw.hookId,
          syscallNr: raw.syscallNr,
          action: raw.action,
          selector: raw.selector,
          compat: raw.compat,
          fdKind: raw.fdKind,
          fdNsInum: raw.fdNsInum,
          signalErr: raw.signalErr,
          nsKinds: raw.nsChange.kinds,
          nsToHost: raw.nsChange.toHost,
          nsFromHost: raw.nsChange.fromHost,
          nsChange: raw.nsChange,
          args: raw.args,
          pid: raw.task.pid,
          tid: raw.task.tid,
          nspid: raw.task.nspid,
          uid: raw.task.uid,
          auid: raw.task.auid,
          keyPid: raw.task.key.pid,
          keyKtime: raw.task.key.ktime,
          cgroupId: raw.task.cgroupId,
          task: raw.task,
        });
      }
      expect(batch.syscall(0)).toBe(batch.syscall(2));
      expect(batch.syscall(0).hookId).toBe(7);
      expect(batch.syscall(2).hookId).toBe(8);
    });

    it("refuses a non-syscall record, an index out of range and an argument out of range", () => {
      const { batch } = batchOf(syscallRec(0), new Rec("exit"));
      expect(() => batch.syscall(1)).toThrow(/record 1 is exit, not syscall/);
      expect(() => batch.decode(2)).toThrow(RangeError);
      expect(() => batch.op(-1)).toThrow(RangeError);
      expect(() => batch.syscall(0).arg(C.SYSCALL_ARGS)).toThrow(RangeError);
    });

    describe("records made at the return (return: true hooks)", () => {
      const R = contract.structs.nsguard_syscall_return.fields;
      /** A record of `form` with the return tail: ret, return action, and NSGUARD_SYSCALL_RETURN. */
      const returnRec = (
        form: "nsguard_syscall_return_event" | "nsguard_syscall_strings_return_event",
        ret: bigint,
      ) => {
        const layout = contract.structs[form];
        const tail = layout.fields.ret.offset;
        const r = new Rec("syscall", layout.size).task(S.task, 0).u32(S.hook_id, 3);
        r.u32(S.flags, contract.NSGUARD_SYSCALL_RETURN | C.syscallFlags.COMPAT);
        return r
          .u64(tail + R.ret.offset, BigInt.asUintN(64, ret))
          .u32(tail + R.return_action.offset, C.actions.POST);
      };

      it("reads the return value (signed) and action, in decode() and in the view", () => {
        const { batch } = batchOf(returnRec("nsguard_syscall_return_event", -9n), syscallRec(0));
        const raw = batch.decode(0);
        expect(raw.op === "syscall" && raw.return).toEqual({ value: -9n, action: C.actions.POST });
        expect(raw.op === "syscall" && raw.strings).toEqual([]);
        expect([batch.syscall(0).returnValue, batch.syscall(0).returnAction]).toEqual([-9n, C.actions.POST]);
        expect(batch.syscall(0).compat).toBe(true);
        // A record made at the call has none.
        const call = batch.decode(1);
        expect(call.op === "syscall" && "return" in call).toBe(false);
        expect([batch.syscall(1).returnValue, batch.syscall(1).returnAction]).toEqual([undefined, 0]);
      });

      it("finds the tail after the strings of a hook with string arguments", () => {
        const STR = contract.structs.nsguard_syscall_strings_event.fields.strings.offset;
        const A = contract.structs.nsguard_arg_string.fields;
        const r = returnRec("nsguard_syscall_strings_return_event", 4026531840n);
        r.u32(STR + A.len.offset, 3).raw(STR + A.data.offset, "net");
        const { batch } = batchOf(r);
        expect(batch.syscall(0).returnValue).toBe(4026531840n);
        expect(new TextDecoder().decode(batch.syscall(0).string(0)?.bytes)).toBe("net");
      });

      it("ignores the flag on a record too short to hold a tail", () => {
        const { batch } = batchOf(syscallRec(0).u32(S.flags, contract.NSGUARD_SYSCALL_RETURN));
        expect(batch.syscall(0).returnValue).toBeUndefined();
      });
    });

    it("names fd kinds, unknown values as unknown", () => {
      const kinds = [C.fdKinds.pidfd, C.fdKinds.other, C.fdKinds.unknown, 77].map((k) =>
        syscallRec(0).u32(S.fd_kind, k),
      );
      const { batch } = batchOf(...kinds);
      expect([0, 1, 2, 3].map((i) => batch.syscall(i).fdKind)).toEqual([
        "pidfd",
        "other",
        "unknown",
        "unknown",
      ]);
    });
  });

  it("release() gives the reader slot back exactly once", () => {
    const { bytes, count } = { bytes: new ArrayBuffer(0), count: 0 };
    let released = 0;
    const batch = new RecordBatch(bytes, count, () => released++);
    expect(batch.released).toBe(false);
    batch.release();
    batch.release();
    expect(released).toBe(1);
    expect(batch.released).toBe(true);
    expect(batchOf().batch.released).toBe(true);
  });
});
