import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toJson } from "@bufbuild/protobuf";
import { GetEventsResponseSchema } from "@nsguard/sdk";
import { afterAll, describe, expect, it } from "vitest";
import { BootClock } from "../clock.js";
import { ProcessFlag } from "../process/flags.js";
import { ProcessCache } from "../process/process-cache.js";
import type { CredsInput, ExecInput, NamespaceInums, TaskInput } from "../process/raw-input.js";
import { HOST_NAMESPACES } from "../testing/namespaces.js";
import { type BuildContext, buildExecEvent } from "./event-builder.js";

const NODE = "node-a";
const clock = new BootClock(1_700_000_000_000_000_000n);
const HOST = HOST_NAMESPACES;
const CONTAINER: NamespaceInums = { ...HOST, uts: 21, mnt: 23, pid: 24, pidForChildren: 24, net: 25 };
// A root process in a container: CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_NET_BIND_SERVICE (10) permitted
// and effective; SECBIT_NOROOT | SECBIT_KEEP_CAPS.
const CREDS: CredsInput = {
  uid: 0,
  gid: 1,
  euid: 2,
  egid: 3,
  suid: 4,
  sgid: 5,
  fsuid: 6,
  fsgid: 7,
  securebits: 0x11,
  capPermitted: 0x403n,
  capEffective: 0x403n,
  capInheritable: 0n,
};

const emptyProc = mkdtempSync(join(tmpdir(), "nsguard-noproc-"));
afterAll(() => rmSync(emptyProc, { recursive: true, force: true }));

function task(pid: number, ktime: bigint, ppid: number, nspid: number): TaskInput {
  return {
    key: { pid, ktime },
    pid,
    tid: pid,
    ppid,
    nspid,
    uid: 0,
    euid: 0,
    auid: 4294967295,
    ns: CONTAINER,
  };
}

function exec(pid: number, ktime: bigint, parent: { pid: number; ktime: bigint }, flags: number): ExecInput {
  return {
    ktime,
    task: task(pid, ktime, parent.pid, 2),
    parent,
    flags,
    filename: "/bin/sh",
    args: [],
    cwd: "/",
    cgroupName: "",
    creds: CREDS,
  };
}

/** The exec event's process and parent as Tetragon's JSON. */
function execJson(ctx: Partial<BuildContext>) {
  const cache = new ProcessCache({ nodeName: NODE, clock, procRoot: emptyProc });
  const init = exec(100, 1000n, { pid: 0, ktime: 0n }, ProcessFlag.EXECVE | ProcessFlag.IN_INIT_TREE);
  cache.upsertFromExec(init);
  // The kernel's process table passes the flag on at fork; the clone record carries it.
  const forked = cache.upsertFromClone({
    ktime: 2000n,
    task: task(101, 2000n, 100, 2),
    parent: { pid: 100, ktime: 1000n },
    flags: ProcessFlag.CLONE | ProcessFlag.IN_INIT_TREE,
    creds: CREDS,
  });
  expect(forked).toMatchObject({ inInitTree: true, flags: "clone inInitTree" });
  const child = exec(
    101,
    3000n,
    { pid: 100, ktime: 1000n },
    ProcessFlag.EXECVE | ProcessFlag.CLONE | ProcessFlag.IN_INIT_TREE,
  );
  cache.upsertFromExec(child);
  const event = buildExecEvent(child, cache, { nodeName: NODE, clock, ...ctx });
  // biome-ignore lint/suspicious/noExplicitAny: protojson output, checked field by field below
  return (toJson(GetEventsResponseSchema, event, { useProtoFieldName: true }) as any).process_exec;
}

describe("process annotations", () => {
  it("always sets in_init_tree, and shows the bit in flags as Tetragon does", () => {
    const { process, parent } = execJson({});
    expect(process.in_init_tree).toBe(true);
    expect(process.flags).toBe("execve rootcwd clone inInitTree");
    expect(parent.in_init_tree).toBe(true);
    // Neither flag given: no ns, cap or credentials.
    for (const p of [process, parent]) {
      expect(p).not.toHaveProperty("ns");
      expect(p).not.toHaveProperty("cap");
      expect(p).not.toHaveProperty("process_credentials");
    }
  });

  it("prints in_init_tree false for a process outside the tree", () => {
    const cache = new ProcessCache({ nodeName: NODE, clock, procRoot: emptyProc });
    const injected = exec(200, 1000n, { pid: 0, ktime: 0n }, ProcessFlag.EXECVE);
    cache.upsertFromExec(injected);
    const json = toJson(GetEventsResponseSchema, buildExecEvent(injected, cache, { nodeName: NODE, clock }), {
      useProtoFieldName: true,
      // biome-ignore lint/suspicious/noExplicitAny: protojson output
    }) as any;
    expect(json.process_exec.process.in_init_tree).toBe(false);
  });

  it("--enable-process-ns: ns on process and parent, is_host against the host's inums", () => {
    const { process, parent } = execJson({ includeNamespaces: true, hostNamespaces: HOST });
    for (const p of [process, parent]) {
      expect(p.ns.uts).toEqual({ inum: 21 });
      expect(p.ns.net).toEqual({ inum: 25 });
      expect(p.ns.ipc).toEqual({ inum: 12, is_host: true });
      expect(p.ns.user).toEqual({ inum: 18, is_host: true });
      expect(p).not.toHaveProperty("cap");
    }
  });

  it("--enable-process-cred: cap and process_credentials as Tetragon's AnnotateProcess adds them", () => {
    const { process, parent } = execJson({ includeCredentials: true });
    for (const p of [process, parent]) {
      // Capability 1 is printed without its CAP_ prefix: Tetragon's enum name.
      expect(p.cap).toEqual({
        permitted: ["CAP_CHOWN", "DAC_OVERRIDE", "CAP_NET_BIND_SERVICE"],
        effective: ["CAP_CHOWN", "DAC_OVERRIDE", "CAP_NET_BIND_SERVICE"],
      });
      expect(p.process_credentials).toEqual({
        uid: 0,
        gid: 1,
        euid: 2,
        egid: 3,
        suid: 4,
        sgid: 5,
        fsuid: 6,
        fsgid: 7,
        securebits: ["SecBitNoRoot", "SecBitKeepCaps"],
      });
      expect(p).not.toHaveProperty("ns");
    }
  });
});
