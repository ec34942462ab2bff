// SPDX-License-Identifier: Apache-2.0
// Pure tier: needs no root, no BPF objects, no kernel features.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  BpfError,
  BpfObject,
  bootClockOffsetNs,
  bumpMemlock,
  decodeRecords,
  isBpfError,
  libbpfVersion,
  nativeConstants,
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

describe("record decoding (the reader's validation + decoder)", () => {
  const sizes = nativeConstants.recordSizes;

  it("counts short, zeroed, unknown and over-claiming records as malformed", () => {
    const { events, malformed } = decodeRecords([
      new Uint8Array(4), // shorter than the header
      new Uint8Array(sizes.syscall), // op 0 is reserved
      sample(99, 64), // unknown op
      sample(nativeConstants.ops.syscall, sizes.syscall - 8), // short for its op
      sample(nativeConstants.ops.exit, sizes.exit, sizes.exit + 8), // hdr.size past the sample
      sample(nativeConstants.ops.clone, sizes.clone, 0), // hdr.size 0
    ]);
    expect(events).toEqual([]);
    expect(malformed).toBe(6);
  });

  it("decodes well-formed records into RawEvent shapes", () => {
    const { events, malformed } = decodeRecords([
      sample(nativeConstants.ops.clone, sizes.clone),
      sample(nativeConstants.ops.exit, sizes.exit),
      sample(nativeConstants.ops.syscall, sizes.syscall),
      sample(nativeConstants.ops.exec, sizes.exec),
      // Longer than the struct is fine (a newer BPF side may append fields).
      sample(nativeConstants.ops.exit, sizes.exit + 16),
    ]);
    expect(malformed).toBe(0);
    expect(events.map((e) => e.op)).toEqual(["clone", "exit", "syscall", "exec", "exit"]);
    const [clone, exit, syscall, exec] = events;
    expect(clone).toMatchObject({ ktime: 0n, parent: { pid: 0, ktime: 0n } });
    expect(clone?.task).toEqual({
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
    });
    expect(exit).toMatchObject({ exitCode: 0 });
    expect(syscall).toMatchObject({
      hookId: 0,
      syscallNr: 0,
      action: 0,
      selector: 0,
      args: [0n, 0n, 0n, 0n, 0n, 0n],
      fdKind: "unknown",
      fdNsInum: 0,
      signalErr: 0,
    });
    expect(exec).toMatchObject({ flags: 0, filename: "", args: [], cwd: "", cgroupName: "" });
  });

  it("rejects non-Uint8Array samples with a TypeError", () => {
    expect(() => decodeRecords(["x" as unknown as Uint8Array])).toThrow(TypeError);
  });
});
