import { spawn } from "node:child_process";
import { mkdtempSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { PodSchema } from "@nsguard/sdk";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { BootClock } from "../clock.js";
import { StaticPodInfoSource } from "../container/pod-info.js";
import { execId, rootParentExecId } from "./exec-id.js";
import { ProcessFlag } from "./flags.js";
import { ProcessCache, type ProcessCacheOptions } from "./process-cache.js";
import type { ProcessRecord } from "./process-record.js";
import type { CloneInput, ExecInput, ExitInput, NamespaceInums, TaskInput } from "./raw-input.js";

const NODE = "node-a";
const clock = new BootClock(1_700_000_000_000_000_000n);
const NS: NamespaceInums = {
  uts: 1,
  ipc: 2,
  mnt: 3,
  pid: 4,
  pidForChildren: 4,
  net: 5,
  time: 6,
  timeForChildren: 6,
  cgroup: 7,
  user: 8,
};
const CID = "a5a6a3af5d51ad95b915ca948710b90a94abc279e84963b9d22a39f342ce67d9";

const emptyProc = mkdtempSync(join(tmpdir(), "nsguard-noproc-"));
afterAll(() => rmSync(emptyProc, { recursive: true, force: true }));

let nowMs = 0;
const makeCache = (extra: Partial<ProcessCacheOptions> = {}) =>
  new ProcessCache({ nodeName: NODE, clock, procRoot: emptyProc, now: () => nowMs, ...extra });

function task(pid: number, ktime: bigint, ppid: number, extra: Partial<TaskInput> = {}): TaskInput {
  return {
    key: { pid, ktime },
    pid,
    tid: pid,
    ppid,
    nspid: 0,
    uid: 0,
    euid: 0,
    auid: 4294967295,
    ns: NS,
    ...extra,
  };
}

function exec(
  pid: number,
  ktime: bigint,
  parent: { pid: number; ktime: bigint },
  more: Partial<ExecInput> = {},
): ExecInput {
  return {
    ktime,
    task: task(pid, ktime, parent.pid),
    parent,
    flags: ProcessFlag.EXECVE | ProcessFlag.CLONE,
    filename: `/bin/p${pid}`,
    args: [],
    cwd: "/tmp",
    cgroupName: "",
    ...more,
  };
}

function clone(
  pid: number,
  ktime: bigint,
  parent: { pid: number; ktime: bigint },
  extra: Partial<TaskInput> = {},
): CloneInput {
  return { ktime, task: task(pid, ktime, parent.pid, extra), parent };
}

function exit(pid: number, ktime: bigint, exitCode = 0): ExitInput {
  return { ktime: ktime + 1n, task: task(pid, ktime, 0), exitCode };
}

beforeEach(() => {
  nowMs = 1_000_000;
});

describe("ProcessCache — identity and parents", () => {
  it("keys an exec by node, pid and the kernel's ktime, and links its parent", () => {
    const cache = makeCache();
    const shell = cache.upsertFromExec(
      exec(100, 1000n, { pid: 0, ktime: 0n }, { task: task(100, 1000n, 0) }),
    );
    expect(shell.execId).toBe(execId(NODE, 1000n, 100));
    expect(shell.parentExecId).toBe(rootParentExecId(NODE));
    expect(shell.parentPid).toBe(0);

    const child = cache.upsertFromExec(exec(101, 2000n, { pid: 100, ktime: 1000n }, { args: ["-c", "a b"] }));
    expect(child.parentExecId).toBe(shell.execId);
    expect(child.parentKtime).toBe(1000n);
    expect(child.arguments).toBe('-c "a b"');
    expect(child.flags).toBe("execve clone");
    expect(child.startTime).toEqual(clock.toTimestamp(2000n));
    expect(cache.get(child.execId)).toBe(child);
    expect(cache.findByPid(101)).toBe(child);
  });

  it("falls back to the record's ktime when the kernel had no key, and to ppid when it had no parent", () => {
    const cache = makeCache();
    const parent = cache.upsertFromExec(exec(100, 1000n, { pid: 0, ktime: 0n }));
    const raw = exec(101, 5000n, { pid: 0, ktime: 0n });
    raw.task.key = { pid: 101, ktime: 0n };
    raw.task.ppid = 100;
    const child = cache.upsertFromExec(raw);
    expect(child.execId).toBe(execId(NODE, 5000n, 101));
    expect(child.parentExecId).toBe(parent.execId);
  });

  it("names an unknown parent by the kernel's key", () => {
    const cache = makeCache();
    const child = cache.upsertFromExec(exec(101, 2000n, { pid: 77, ktime: 700n }));
    expect(child.parentExecId).toBe(execId(NODE, 700n, 77));
  });

  it("derives rootcwd from cwd '/', makes relative filenames absolute, drops cwd on nocwd", () => {
    const cache = makeCache();
    const a = cache.upsertFromExec(
      exec(1, 10n, { pid: 0, ktime: 0n }, { cwd: "/", flags: ProcessFlag.EXECVE }),
    );
    expect(a.flags).toBe("execve rootcwd");
    const b = cache.upsertFromExec(
      exec(2, 20n, { pid: 0, ktime: 0n }, { cwd: "/work", filename: "./run.sh" }),
    );
    expect(b.binary).toBe("/work/run.sh");
    const c = cache.upsertFromExec(
      exec(3, 30n, { pid: 0, ktime: 0n }, { cwd: "garbage", flags: ProcessFlag.EXECVE | ProcessFlag.NO_CWD }),
    );
    expect(c.cwd).toBe("");
    expect(c.flags).toBe("execve nocwd");
  });

  it("takes the container id from the kernel's cgroup name and attaches the pod with the nspid", () => {
    const pod = create(PodSchema, {
      namespace: "empire",
      name: "deathstar",
      container: { id: `containerd://${CID}` },
    });
    const cache = makeCache({ podInfo: new StaticPodInfoSource([pod]) });
    const raw = exec(5, 50n, { pid: 0, ktime: 0n }, { cgroupName: `cri-containerd-${CID}.scope` });
    raw.task.nspid = 7;
    const rec = cache.upsertFromExec(raw);
    expect(rec.docker).toBe(CID.slice(0, 31));
    expect(rec.containerId).toBe(CID);
    expect(rec.pod?.name).toBe("deathstar");
    expect(rec.pod?.container?.pid).toBe(7);
  });

  it("attaches a pod that became known after the process was cached", () => {
    const pods = new StaticPodInfoSource();
    const cache = makeCache({ podInfo: pods });
    const rec = cache.upsertFromExec(exec(5, 50n, { pid: 0, ktime: 0n }, { cgroupName: CID }));
    expect(rec.pod).toBeUndefined();
    pods.add(create(PodSchema, { name: "late", container: { id: CID } }));
    expect(cache.get(rec.execId)?.pod?.name).toBe("late");
  });
});

describe("ProcessCache — clone and exec replacement", () => {
  it("a clone copies the parent's image, gets its own exec_id and flags exactly 'clone'", () => {
    const pod = create(PodSchema, { name: "xwing", container: { id: CID } });
    const cache = makeCache({ podInfo: new StaticPodInfoSource([pod]) });
    const parentRaw = exec(100, 1000n, { pid: 0, ktime: 0n }, { args: ["-l"], cwd: "/", cgroupName: CID });
    parentRaw.task.nspid = 1;
    const parent = cache.upsertFromExec(parentRaw);
    const child = cache.upsertFromClone(
      clone(101, 1500n, { pid: 100, ktime: 1000n }, { nspid: 2, uid: 1000 }),
    );
    expect(child).toMatchObject({
      execId: execId(NODE, 1500n, 101),
      parentExecId: parent.execId,
      binary: parent.binary,
      arguments: "-l",
      cwd: "/",
      flags: "clone",
      docker: parent.docker,
      uid: 1000,
      nspid: 2,
    });
    expect(child.pod?.container?.pid).toBe(2);
    expect(parent.pod?.container?.pid).toBe(1);
  });

  it("counts refs like Tetragon: 1 for itself + 1 per live child", () => {
    const cache = makeCache();
    const shell = cache.upsertFromExec(exec(100, 1000n, { pid: 0, ktime: 0n }));
    expect(shell.refcnt).toBe(1);

    // fork + exec of a child: the clone entry is replaced, the shell keeps exactly one ref for it.
    const forked = cache.upsertFromClone(clone(101, 1500n, { pid: 100, ktime: 1000n }));
    expect(shell.refcnt).toBe(2);
    const child = cache.upsertFromExec(exec(101, 1600n, { pid: 100, ktime: 1000n }));
    expect(shell.refcnt).toBe(2);
    expect(forked.exited).toBe(true);
    expect(forked.refcnt).toBe(0);
    expect(child.refcnt).toBe(1);
    expect(cache.findByPid(101)).toBe(child);

    // the child exits: shell back to 1
    expect(cache.markExit(exit(101, 1600n))).toBe(child);
    expect(child.refcnt).toBe(0);
    expect(shell.refcnt).toBe(1);
    expect(cache.markExit(exit(101, 1600n))).toBeUndefined(); // duplicate exit is ignored
  });

  it("an exec without clone keeps the parent, and releases the old image", () => {
    const cache = makeCache();
    const parent = cache.upsertFromExec(exec(100, 1000n, { pid: 0, ktime: 0n }));
    const first = cache.upsertFromExec(exec(101, 2000n, { pid: 100, ktime: 1000n }, { filename: "/bin/sh" }));
    const second = cache.upsertFromExec(
      exec(101, 3000n, { pid: 100, ktime: 1000n }, { filename: "/usr/bin/env", flags: ProcessFlag.EXECVE }),
    );
    expect(second.parentExecId).toBe(parent.execId);
    expect(second.flags).toBe("execve");
    expect(first.exited).toBe(true);
    expect(parent.refcnt).toBe(2);
  });

  it("keeps an exited parent while a child references it, then drops it after the grace period", () => {
    const cache = makeCache({ exitGraceMs: 1000 });
    const parent = cache.upsertFromExec(exec(100, 1000n, { pid: 0, ktime: 0n }));
    const child = cache.upsertFromExec(exec(101, 2000n, { pid: 100, ktime: 1000n }));
    cache.markExit(exit(100, 1000n));
    expect(parent.refcnt).toBe(1);
    nowMs += 10_000;
    cache.sweep();
    expect(cache.get(parent.execId)).toBe(parent); // still referenced by the running child

    cache.markExit(exit(101, 2000n));
    expect(parent.refcnt).toBe(0);
    nowMs += 999;
    cache.sweep();
    expect(cache.get(child.execId)).toBeDefined(); // events in flight can still resolve it
    expect(cache.get(parent.execId)).toBeDefined();
    nowMs += 1;
    cache.sweep();
    expect(cache.get(child.execId)).toBeUndefined();
    expect(cache.get(parent.execId)).toBeUndefined();
    expect(cache.findByPid(101)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it("exit resolves by pid when the kernel had no key", () => {
    const cache = makeCache();
    const rec = cache.upsertFromExec(exec(100, 1000n, { pid: 0, ktime: 0n }));
    expect(cache.markExit({ ktime: 5n, task: task(100, 0n, 0), exitCode: 9 })).toBe(rec);
    expect(rec.exited).toBe(true);
  });
});

describe("ProcessCache — bounded memory", () => {
  it("evicts zero-refcnt entries first, then exited-but-referenced, then the least recently used", () => {
    const cache = makeCache({ maxEntries: 3, exitGraceMs: 60_000 });
    const a = cache.upsertFromExec(exec(1, 10n, { pid: 0, ktime: 0n }));
    const b = cache.upsertFromExec(exec(2, 20n, { pid: 1, ktime: 10n }));
    const c = cache.upsertFromExec(exec(3, 30n, { pid: 0, ktime: 0n }));
    cache.markExit(exit(3, 30n)); // c: refcnt 0
    cache.markExit(exit(1, 10n)); // a: exited, still referenced by b
    cache.upsertFromExec(exec(4, 40n, { pid: 0, ktime: 0n }));
    expect(cache.get(c.execId)).toBeUndefined();
    expect(cache.get(a.execId)).toBe(a);

    cache.upsertFromExec(exec(5, 50n, { pid: 0, ktime: 0n }));
    expect(cache.get(a.execId)).toBeUndefined();
    expect(cache.get(b.execId)).toBe(b);

    // all alive now: the least recently used goes (b was just read, so entry 4 is the oldest)
    cache.upsertFromExec(exec(6, 60n, { pid: 0, ktime: 0n }));
    expect(cache.size).toBe(3);
    expect(cache.findByPid(4)).toBeUndefined();
    expect(cache.get(b.execId)).toBe(b);
    expect(cache.stats()).toMatchObject({ size: 3, removed: 3, evictedReferenced: 2 });
  });

  it("stays at its bound through 100k short-lived processes inside one grace period", () => {
    // The load: a shell forks and execs 100k short-lived children faster than the grace
    // period (the clock never moves here, so no entry ever ages out). Each leaves two dead
    // entries (its clone image, replaced by its exec, and its exec image).
    const maxExitedEntries = 512;
    const cache = makeCache({ maxExitedEntries, exitGraceMs: 30_000 });
    const shell = cache.upsertFromExec(exec(100, 1000n, { pid: 0, ktime: 0n }));
    let ktime = 2000n;
    let maxSize = 0;
    for (let i = 0; i < 100_000; i++) {
      const pid = 1000 + (i % 30_000); // pids wrap, as the kernel's do
      const forked = ktime++;
      const execd = ktime++;
      cache.upsertFromClone(clone(pid, forked, { pid: 100, ktime: 1000n }));
      const child = cache.upsertFromExec(exec(pid, execd, { pid: 100, ktime: 1000n }));
      if (cache.markExit(exit(pid, execd)) !== child) throw new Error(`exit ${i} did not find its process`);
      maxSize = Math.max(maxSize, cache.size);
    }
    // The shell and the bounded history of the dead, never more.
    expect(maxSize).toBe(1 + maxExitedEntries);
    expect(cache.stats()).toMatchObject({
      size: 1 + maxExitedEntries,
      exited: maxExitedEntries,
      removed: 200_000 - maxExitedEntries,
      evictedReferenced: 0,
    });
    expect(shell.refcnt).toBe(1); // every child's parent++ was undone by its exit
    // The most recent dead ones are still resolvable, as the records right behind them need.
    expect(cache.lookup({ pid: 1000 + (99_999 % 30_000), ktime: ktime - 1n })?.exited).toBe(true);
  }, 120_000); // 100k iterations: a few seconds alone, much longer on a loaded 2-core machine
});

describe("ProcessCache — resolve", () => {
  const procfsRecord = (pid: number, ktime: bigint): ProcessRecord => ({
    execId: execId(NODE, ktime, pid),
    pid,
    tid: pid,
    ktime,
    parentExecId: rootParentExecId(NODE),
    parentPid: 0,
    parentKtime: 0n,
    uid: 0,
    auid: 4294967295,
    cwd: "/",
    binary: "/sbin/old",
    arguments: "",
    flags: "procFS auid rootcwd",
    startTime: clock.toTimestamp(ktime),
    docker: "",
    containerId: "",
    nspid: 0,
    inInitTree: false,
  });

  it("accepts a procfs entry for a kernel key within one clock tick, not beyond", () => {
    const cache = makeCache();
    cache.seedFromProcfs([procfsRecord(50, 120_000_000n)]);
    expect(cache.resolve({ pid: 50, ktime: 125_000_000n })?.binary).toBe("/sbin/old");
    expect(cache.lookup({ pid: 50, ktime: 130_000_000n })).toBeUndefined(); // a newer process with that pid
    expect(cache.resolve({ pid: 50, ktime: 0n })?.binary).toBe("/sbin/old");
  });

  it("seeds from procfs in any order and wires parent refs", () => {
    const cache = makeCache();
    const parent = procfsRecord(10, 100n);
    const child = {
      ...procfsRecord(11, 200n),
      parentExecId: parent.execId,
      parentPid: 10,
      parentKtime: 100n,
    };
    expect(cache.seedFromProcfs([child, parent])).toBe(2);
    expect(cache.get(parent.execId)?.refcnt).toBe(2);
    expect(cache.get(child.execId)?.refcnt).toBe(1);
    // kernel-seen processes win over a later seed for the same pid
    cache.upsertFromExec(exec(12, 300n, { pid: 0, ktime: 0n }));
    expect(cache.seedFromProcfs([procfsRecord(12, 250n)])).toBe(0);
  });

  it("reads /proc on a miss and files the process under the kernel's key with 'miss'", async () => {
    const cwd = realpathSync(mkdtempSync(join(tmpdir(), "nsguard-miss-")));
    const child = spawn("sleep", ["30"], { cwd, stdio: "ignore" });
    try {
      await new Promise((resolve) => child.once("spawn", resolve));
      await new Promise((r) => setTimeout(r, 50));
      const pid = child.pid ?? 0;
      const cache = new ProcessCache({ nodeName: NODE, clock });
      const rec = cache.resolve({ pid, ktime: 987654321n });
      expect(rec).toMatchObject({
        execId: execId(NODE, 987654321n, pid),
        pid,
        cwd,
        arguments: "30",
        flags: "procFS miss auid",
        refcnt: 1,
      });
      expect(rec?.binary).toMatch(/\/sleep$/);
      expect(cache.stats().procfsMisses).toBe(1);
      // the next record for it hits the cache
      expect(cache.resolve({ pid, ktime: 987654321n })).toBe(rec);
      expect(cache.stats().procfsMisses).toBe(1);
    } finally {
      child.kill("SIGKILL");
      rmSync(cwd, { recursive: true, force: true });
    }
  });

  it("a clone whose parent is unknown everywhere is flagged 'clone miss'", () => {
    const cache = makeCache();
    const rec = cache.upsertFromClone(clone(4242, 10n, { pid: 4241, ktime: 5n }));
    expect(rec.flags).toBe("miss clone");
    expect(rec.binary).toBe("");
    expect(rec.parentExecId).toBe(execId(NODE, 5n, 4241));
  });

  it("returns undefined when the process is gone everywhere", () => {
    expect(makeCache().resolve({ pid: 0x3fffffff, ktime: 1n })).toBeUndefined();
  });
});

describe("ProcessCache — records arriving out of order", () => {
  it("an exec replaces the image of an entry that a /proc miss created under the same key", async () => {
    const child = spawn("sleep", ["30"], { stdio: "ignore" });
    try {
      await new Promise((resolve) => child.once("spawn", resolve));
      const pid = child.pid ?? 0;
      const cache = new ProcessCache({ nodeName: NODE, clock });
      const early = cache.resolve({ pid, ktime: 4242n });
      expect(early?.flags).toContain("procFS");
      const raw = exec(
        pid,
        4242n,
        { pid: 0, ktime: 0n },
        { filename: "/usr/bin/sleep", args: ["30"], cwd: "/" },
      );
      const rec = cache.upsertFromExec(raw);
      expect(rec).toBe(early);
      expect(rec.flags).toBe("execve rootcwd clone");
      expect(rec.refcnt).toBe(1);
      expect(cache.size).toBe(1);
    } finally {
      child.kill("SIGKILL");
    }
  });
});
