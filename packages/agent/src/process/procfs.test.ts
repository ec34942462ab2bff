import { type ChildProcess, spawn } from "node:child_process";
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { PodSchema } from "@nsguard/sdk";
import { afterAll, describe, expect, it } from "vitest";
import { BootClock, estimateBootOffsetNs, wallNsFromTimestamp } from "../clock.js";
import { StaticPodInfoSource } from "../container/pod-info.js";
import { execId, rootParentExecId } from "./exec-id.js";
import {
  clockTicksPerSecond,
  kernelSeedOf,
  nspidFromStatus,
  parseStat,
  readProcfsProcess,
  scanProcfs,
} from "./procfs.js";

const NODE = "test-node";
const clock = new BootClock(estimateBootOffsetNs());
const children: ChildProcess[] = [];
const tmpDirs: string[] = [];

afterAll(() => {
  for (const child of children) child.kill("SIGKILL");
  for (const dir of tmpDirs) rmSync(dir, { recursive: true, force: true });
});

async function start(
  cmd: string,
  args: string[],
  cwd: string,
): Promise<{ pid: number; spawnedAtMs: number }> {
  const spawnedAtMs = Date.now();
  const child = spawn(cmd, args, { cwd, stdio: "ignore" });
  children.push(child);
  await new Promise((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", reject);
  });
  // "spawn" fires after exec; give the kernel a moment to settle /proc/<pid>/cmdline.
  await new Promise((r) => setTimeout(r, 50));
  return { pid: child.pid ?? 0, spawnedAtMs };
}

function selfKtime(): bigint {
  const stat = parseStat(readFileSync("/proc/self/stat", "utf8"));
  return ((stat?.startTicks ?? 0n) * 1_000_000_000n) / BigInt(clockTicksPerSecond());
}

describe("scanProcfs on the real /proc", () => {
  it("finds a child we spawned with the right binary, arguments, cwd, parent and start time", async () => {
    const cwd = realpathSync(mkdtempSync(join(tmpdir(), "nsguard-procfs-")));
    tmpDirs.push(cwd);
    const { pid, spawnedAtMs } = await start("sleep", ["30"], cwd);

    const records = scanProcfs({ nodeName: NODE, clock });
    const rec = records.find((r) => r.pid === pid);
    expect(rec).toBeDefined();
    if (!rec) return;

    expect(rec.binary).toBe(realpathSync(readlinkSync(`/proc/${pid}/exe`)));
    expect(rec.binary).toMatch(/\/sleep$/);
    expect(rec.arguments).toBe("30");
    expect(rec.cwd).toBe(cwd);
    expect(rec.flags).toBe("procFS auid");
    expect(rec.parentPid).toBe(process.pid);
    expect(rec.parentKtime).toBe(selfKtime());
    expect(rec.parentExecId).toBe(execId(NODE, selfKtime(), process.pid));
    expect(rec.execId).toBe(execId(NODE, rec.ktime, pid));
    expect(rec.uid).toBe(process.getuid?.());
    expect(rec.nspid).toBe(0);
    expect(rec.ns?.net).toBe(Number(/\[(\d+)\]/.exec(readlinkSync("/proc/self/ns/net"))?.[1]));
    expect(rec.docker).toBe("");

    const startMs = Number(wallNsFromTimestamp(rec.startTime) / 1_000_000n);
    expect(Math.abs(startMs - spawnedAtMs)).toBeLessThan(1000);

    // This process is in the scan too, and is the child's parent.
    expect(records.find((r) => r.pid === process.pid)?.execId).toBe(rec.parentExecId);
  });

  it("quotes real arguments with spaces and marks cwd / as rootcwd", async () => {
    const { pid } = await start(process.execPath, ["-e", "setTimeout(() => {}, 30000)", "two words"], "/");
    const rec = readProcfsProcess(pid, { nodeName: NODE, clock });
    expect(rec?.binary).toBe(realpathSync(process.execPath));
    expect(rec?.arguments).toBe('-e "setTimeout(() => {}, 30000)" "two words"');
    expect(rec?.cwd).toBe("/");
    expect(rec?.flags).toBe("procFS auid rootcwd");
  });

  it("gives kernel threads their comm as binary and pid 0 parents the fixed root id", () => {
    const kthreadd = readProcfsProcess(2, { nodeName: NODE, clock });
    if (!kthreadd) return; // no kernel threads visible in this pid namespace
    expect(kthreadd.binary).toBe("kthreadd");
    expect(kthreadd.arguments).toBe("");
    expect(kthreadd.parentPid).toBe(0);
    expect(kthreadd.parentExecId).toBe(rootParentExecId(NODE));
  });

  it("returns undefined for a pid that does not exist", () => {
    expect(readProcfsProcess(0x3fffffff, { nodeName: NODE, clock })).toBeUndefined();
  });
});

describe("scanProcfs on a constructed /proc", () => {
  const ID = "057dc8d712abf96c628c82ea111d53a205a256b0dc39bb31284426aaf378acbc";

  function fakeProc(): string {
    const root = mkdtempSync(join(tmpdir(), "nsguard-fakeproc-"));
    tmpDirs.push(root);
    const proc = (pid: number, files: Record<string, string>, links: Record<string, string> = {}) => {
      const dir = join(root, String(pid));
      mkdirSync(join(dir, "ns"), { recursive: true });
      for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
      for (const [name, target] of Object.entries(links)) symlinkSync(target, join(dir, name));
    };
    const stat = (pid: number, comm: string, ppid: number, start: number) =>
      `${pid} (${comm}) S ${ppid} 1 1 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 ${start} 0 0\n`;
    // A containerised bash (nspid 31) and its nsenter child (nspid 37), like the seed.
    proc(
      63052,
      {
        stat: stat(63052, "bash", 7211, 11697772),
        status: "Name:\tbash\nUid:\t0\t0\t0\t0\nNSpid:\t63052\t31\n",
        cmdline: "/bin/bash\0",
        loginuid: "4294967295",
        cgroup: `4:memory:/kubepods/besteffort/podx/${ID}\n0::/\n`,
      },
      { exe: "/bin/bash", cwd: "/", "ns/net": "net:[4026532181]", "ns/pid": "pid:[4026532180]" },
    );
    proc(
      63066,
      {
        stat: stat(63066, "nsenter", 63052, 11697790),
        status: "Name:\tnsenter\nUid:\t1000\t0\t0\t0\nNSpid:\t63066\t37\n",
        cmdline: "nsenter\0-t\x001\0-m\0",
        loginuid: "1000",
        cgroup: `4:memory:/kubepods/besteffort/podx/${ID}\n0::/\n`,
      },
      // no exe link (unreadable), no cwd link (EACCES): falls back to argv[0], flags nocwd
    );
    // A process that vanished between readdir and the reads: only a stat file is left.
    proc(70000, { stat: stat(70000, "gone", 1, 5) });
    writeFileSync(join(root, "uptime"), "1.00 1.00\n");
    mkdirSync(join(root, "self"));
    return root;
  }

  const pods = new StaticPodInfoSource([
    create(PodSchema, {
      namespace: "default",
      name: "xwing",
      container: { id: `containerd://${ID}`, name: "spaceship" },
    }),
  ]);

  it("builds Tetragon-shaped records, skipping vanished processes", () => {
    const procRoot = fakeProc();
    const records = scanProcfs({ nodeName: NODE, clock, procRoot, clkTck: 100, podInfo: pods });
    expect(records.map((r) => r.pid).sort()).toEqual([63052, 63066]);

    const bash = records.find((r) => r.pid === 63052);
    expect(bash).toMatchObject({
      binary: "/bin/bash",
      arguments: "",
      cwd: "/",
      flags: "procFS auid rootcwd",
      ktime: 116977720000000n,
      parentPid: 7211,
      parentKtime: 0n, // 7211 is not in this /proc: unknown, like Tetragon's zero pktime
      parentExecId: execId(NODE, 0n, 7211),
      uid: 0,
      auid: 4294967295,
      nspid: 31,
      docker: "057dc8d712abf96c628c82ea111d53a",
      containerId: ID,
    });
    expect(bash?.ns?.net).toBe(4026532181);
    expect(bash?.ns?.mnt).toBe(0);
    expect(bash?.pod?.name).toBe("xwing");
    expect(bash?.pod?.container?.pid).toBe(31);

    const nsenter = records.find((r) => r.pid === 63066);
    expect(nsenter).toMatchObject({
      binary: "nsenter",
      arguments: "-t 1 -m",
      cwd: "",
      flags: "procFS auid nocwd",
      uid: 1000,
      euid: 0,
      auid: 1000,
      nspid: 37,
      parentExecId: bash?.execId,
      parentKtime: bash?.ktime,
    });
    expect(nsenter?.pod?.container?.pid).toBe(37);
    if (!nsenter) throw new Error("nsenter not scanned");
    const noNs = { uts: 0, ipc: 0, mnt: 0, pid: 0, pidForChildren: 0, net: 0, time: 0, timeForChildren: 0 };
    // Its exe is unreadable: the kernel gets no binary (argv[0] is no exec'd path).
    expect(kernelSeedOf(nsenter)).toEqual({
      pid: 63066,
      ktime: 116977900000000n,
      parentPid: 63052,
      parentKtime: 116977720000000n,
      nspid: 37,
      flags: 0x84,
      binary: "",
      execNs: { ...noNs, cgroup: 0, user: 0 },
      execCaps: { effective: 0n, inheritable: 0n, permitted: 0n },
    });
    // bash's exe and namespaces are what matchBinaries and matchNamespaceChanges start from.
    expect(kernelSeedOf(bash as NonNullable<typeof bash>)).toMatchObject({
      binary: "/bin/bash",
      execNs: { ...noNs, net: 4026532181, pid: 4026532180, cgroup: 0, user: 0 },
    });
  });

  it("marks a container's init tree as Tetragon's procfs reader does, whatever the /proc order", () => {
    const root = mkdtempSync(join(tmpdir(), "nsguard-fakeproc-"));
    tmpDirs.push(root);
    const proc = (pid: number, ppid: number, nspid: string, status = "") => {
      const dir = join(root, String(pid));
      mkdirSync(join(dir, "ns"), { recursive: true });
      writeFileSync(
        join(dir, "stat"),
        `${pid} (p) S ${ppid} 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 ${pid} 0 0\n`,
      );
      writeFileSync(join(dir, "status"), `Name:\tp\nNSpid:\t${nspid}\n${status}`);
      writeFileSync(join(dir, "cmdline"), "p\0");
    };
    // Lower pids first in /proc, but the tree runs the other way: init 300 (nspid 1) → 200 → 100.
    proc(100, 200, "100\t3");
    proc(200, 300, "200\t2");
    proc(300, 50, "300\t1");
    // Injected by `kubectl exec` (the shim, 50, is its parent): outside the tree.
    proc(
      400,
      50,
      "400\t4",
      "Uid:\t1000\t1001\t1002\t1003\nGid:\t2000\t2001\t2002\t2003\n" +
        "CapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\nCapEff:\t0000000000000402\n",
    );
    proc(50, 1, "50");
    const records = new Map(
      scanProcfs({ nodeName: NODE, clock, procRoot: root, clkTck: 100 }).map((r) => [r.pid, r]),
    );
    const inTree = [...records.values()].filter((r) => r.inInitTree).map((r) => r.pid);
    expect(inTree.sort()).toEqual([100, 200, 300]);
    expect(records.get(100)?.flags).toBe("procFS auid nocwd inInitTree");
    expect(records.get(400)?.flags).toBe("procFS auid nocwd");
    expect(kernelSeedOf(records.get(300) as NonNullable<ReturnType<typeof records.get>>).flags).toBe(
      0x84 | 0x2000000,
    );
    // The capability sets of /proc/PID/status are the base of matchCapabilityChanges.
    expect(kernelSeedOf(records.get(400) as NonNullable<ReturnType<typeof records.get>>).execCaps).toEqual({
      effective: 0x402n,
      inheritable: 0n,
      permitted: 0x1ffffffffffn,
    });
    expect(records.get(400)?.creds).toEqual({
      uid: 1000,
      euid: 1001,
      suid: 1002,
      fsuid: 1003,
      gid: 2000,
      egid: 2001,
      sgid: 2002,
      fsgid: 2003,
      securebits: 0,
      capPermitted: 0x1ff_ffff_ffffn,
      capEffective: 0x402n,
      capInheritable: 0n,
    });
  });
});

describe("parsers", () => {
  it("parseStat copes with spaces and parentheses in comm", () => {
    const text = "42 (a) b (c) S 7 42 42 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 123456 0 0\n";
    expect(parseStat(text)).toEqual({ comm: "a) b (c", ppid: 7, startTicks: 123456n });
    expect(parseStat("garbage")).toBeUndefined();
  });

  it("nspidFromStatus is 0 in the initial pid namespace, the innermost pid otherwise", () => {
    expect(nspidFromStatus("NSpid:\t12617\n")).toBe(0);
    expect(nspidFromStatus("NSpid:\t20644\t2\n")).toBe(2);
    expect(nspidFromStatus("NSpid:\t20644\t9\t2\n")).toBe(2);
    expect(nspidFromStatus("Name:\tx\n")).toBe(0);
  });

  it("reads CLK_TCK from getconf", () => {
    expect(clockTicksPerSecond()).toBe(100);
  });
});
