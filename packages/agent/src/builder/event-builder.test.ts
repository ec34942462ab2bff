import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toJson } from "@bufbuild/protobuf";
import { type GetEventsResponse, GetEventsResponseSchema } from "@nsguard/sdk";
import { nativeConstants } from "@nsguard/sensor";
import { afterAll, describe, expect, it } from "vitest";
import { BootClock } from "../clock.js";
import { execId } from "../process/exec-id.js";
import { ProcessFlag } from "../process/flags.js";
import { ProcessCache } from "../process/process-cache.js";
import type { ExecInput, NamespaceInums, TaskInput } from "../process/raw-input.js";
import { HOST_NAMESPACES } from "../testing/namespaces.js";
import { syscallInput } from "../testing/syscall-input.js";
import {
  type BuildContext,
  buildExecEvent,
  buildExitEvent,
  buildKprobeEvent,
  type KprobeHookSpec,
} from "./event-builder.js";

const NODE = "node-b";
const clock = new BootClock(1_769_796_000_000_000_000n); // boot at 2026-01-30T18:00:00Z
const ctx: BuildContext = { nodeName: NODE, clock };
const HOST = HOST_NAMESPACES;

const emptyProc = mkdtempSync(join(tmpdir(), "nsguard-noproc-"));
afterAll(() => rmSync(emptyProc, { recursive: true, force: true }));
const newCache = () => new ProcessCache({ nodeName: NODE, clock, procRoot: emptyProc });
const json = (ev: GetEventsResponse) => toJson(GetEventsResponseSchema, ev, { useProtoFieldName: true });
/** A value inside protojson output, by key path. */
const at = (value: unknown, ...path: string[]): unknown =>
  path.reduce<unknown>((v, key) => (v as Record<string, unknown> | undefined)?.[key], value);

function task(pid: number, ktime: bigint, ppid: number, ns: NamespaceInums = HOST): TaskInput {
  return { key: { pid, ktime }, pid, tid: pid, ppid, nspid: 0, uid: 1000, euid: 1000, auid: 1000, ns };
}

function execRaw(
  pid: number,
  ktime: bigint,
  ppid: number,
  parentKtime: bigint,
  filename: string,
  args: string[],
): ExecInput {
  return {
    ktime,
    task: task(pid, ktime, ppid),
    parent: { pid: ppid, ktime: parentKtime },
    flags: ProcessFlag.EXECVE | ProcessFlag.CLONE,
    filename,
    args,
    cwd: "/home/u",
    cgroupName: "",
  };
}

const SETNS: KprobeHookSpec = {
  functionName: "__x64_sys_setns",
  policyName: "deny-namespace-access",
  args: [
    { index: 0, kind: "int_arg" },
    { index: 1, kind: "int_arg", label: "nstype" },
  ],
  message: "namespace change",
  tags: ["escape"],
};

describe("buildExecEvent", () => {
  it("emits process (with refcnt) and parent (without), time from the record", () => {
    const cache = newCache();
    const shellRaw = execRaw(10, 1_000_000_000n, 0, 0n, "/bin/bash", []);
    cache.upsertFromExec(shellRaw);
    const curlRaw = execRaw(11, 2_000_000_000n, 10, 1_000_000_000n, "/usr/bin/curl", ["cilium.io"]);
    cache.upsertFromExec(curlRaw);
    const ev = json(buildExecEvent(curlRaw, cache, ctx));
    expect(at(ev, "node_name")).toBe(NODE);
    expect(at(ev, "time")).toBe("2026-01-30T18:00:02Z");
    expect(at(ev, "process_exec", "process")).toMatchObject({
      exec_id: execId(NODE, 2_000_000_000n, 11),
      pid: 11,
      tid: 11,
      uid: 1000,
      auid: 1000,
      binary: "/usr/bin/curl",
      arguments: "cilium.io",
      cwd: "/home/u",
      flags: "execve clone",
      start_time: "2026-01-30T18:00:02Z",
      parent_exec_id: execId(NODE, 1_000_000_000n, 10),
      refcnt: 1,
    });
    expect(at(ev, "process_exec", "parent", "exec_id")).toBe(execId(NODE, 1_000_000_000n, 10));
    expect(at(ev, "process_exec", "parent", "refcnt")).toBeUndefined();
    expect(at(ev, "process_exec", "process", "ns")).toBeUndefined(); // --enable-process-ns is off by default
  });
});

describe("buildExitEvent", () => {
  it("reports the signal name and status after markExit", () => {
    const cache = newCache();
    const raw = execRaw(20, 5_000_000_000n, 0, 0n, "/usr/bin/nsenter", ["-t", "1"]);
    cache.upsertFromExec(raw);
    const exitRaw = { ktime: 6_500_000_000n, task: task(20, 5_000_000_000n, 0), exitCode: 9 };
    cache.markExit(exitRaw);
    const ev = json(buildExitEvent(exitRaw, cache, ctx));
    expect(at(ev, "process_exit")).toMatchObject({ signal: "SIGKILL", time: "2026-01-30T18:00:06.500Z" });
    expect(at(ev, "process_exit", "status")).toBeUndefined(); // 0 is the proto3 default
    expect(at(ev, "process_exit", "process", "binary")).toBe("/usr/bin/nsenter");
    expect(at(ev, "process_exit", "process", "refcnt")).toBeUndefined(); // exited, no children: 0

    const normal = { ktime: 7_000_000_000n, task: task(21, 0n, 0), exitCode: 3 << 8 };
    const ev2 = json(buildExitEvent(normal, cache, ctx));
    expect(at(ev2, "process_exit", "status")).toBe(3);
    expect(at(ev2, "process_exit", "signal")).toBeUndefined();
    expect(at(ev2, "process_exit", "process")).toMatchObject({ pid: 21, flags: "miss" });
  });
});

describe("buildKprobeEvent", () => {
  it("carries the policy's message, tags, labels and the kernel's SIGKILL action", () => {
    const cache = newCache();
    const raw = execRaw(30, 3_000_000_000n, 0, 0n, "/usr/bin/nsenter", []);
    cache.upsertFromExec(raw);
    const sys = syscallInput({
      ktime: 3_100_000_000n,
      task: { ...task(30, 3_000_000_000n, 0), tid: 31 },
      action: 3,
      args: [4n, 0x40000000n, 0n, 0n, 0n, 0n],
    });
    const ev = json(buildKprobeEvent(sys, SETNS, cache, ctx));
    expect(at(ev, "process_kprobe")).toMatchObject({
      function_name: "__x64_sys_setns",
      policy_name: "deny-namespace-access",
      action: "KPROBE_ACTION_SIGKILL",
      return_action: "KPROBE_ACTION_POST",
      message: "namespace change",
      tags: ["escape"],
      args: [{ int_arg: 4 }, { int_arg: 1073741824, label: "nstype" }],
    });
    expect(at(ev, "process_kprobe", "process")).toMatchObject({ pid: 30, tid: 31, refcnt: 1 });
    expect(at(ev, "process_kprobe", "parent")).toBeUndefined(); // pid 0's parent is not a process
  });

  it("emits namespaces with is_host when asked", () => {
    const cache = newCache();
    const container: NamespaceInums = { ...HOST, net: 99, mnt: 98 };
    const raw = execRaw(40, 4_000_000_000n, 0, 0n, "/bin/sh", []);
    raw.task.ns = container;
    cache.upsertFromExec(raw);
    const sys = syscallInput({
      ktime: 4_000_000_001n,
      task: task(40, 4_000_000_000n, 0),
      action: 1,
      args: [3n, 0n],
    });
    const ev = json(
      buildKprobeEvent(sys, SETNS, cache, { ...ctx, includeNamespaces: true, hostNamespaces: HOST }),
    );
    expect(at(ev, "process_kprobe", "process", "ns", "net")).toEqual({ inum: 99 });
    expect(at(ev, "process_kprobe", "process", "ns", "uts")).toEqual({ inum: 11, is_host: true });
  });

  it("still emits an event for a process nobody knows, flagged miss", () => {
    const sys = syscallInput({ ktime: 9n, task: task(0x3ffffff0, 0n, 1), action: 1, args: [3n, 0n] });
    const ev = json(buildKprobeEvent(sys, SETNS, newCache(), ctx));
    expect(at(ev, "process_kprobe", "process")).toMatchObject({
      exec_id: execId(NODE, 0n, 0x3ffffff0),
      pid: 0x3ffffff0,
      flags: "miss",
      uid: 1000,
    });
  });

  it("shares one kprobe message between repeats of a call, and builds a new one when anything in it changes", () => {
    const cache = newCache();
    cache.upsertFromExec(execRaw(60, 6_000_000_000n, 0, 0n, "/usr/bin/nsenter", []));
    const spec: KprobeHookSpec = { ...SETNS }; // its own spec: the memo is per hook spec
    const call = (ktime: bigint, over: { tid?: number; action?: number; nstype?: bigint } = {}) =>
      buildKprobeEvent(
        syscallInput({
          ktime,
          task: { ...task(60, 6_000_000_000n, 0), tid: over.tid ?? 60 },
          action: over.action ?? 1,
          args: [3n, over.nstype ?? 0x40000000n],
        }),
        spec,
        cache,
        ctx,
      );
    const kprobe = (ev: GetEventsResponse) =>
      ev.event.case === "processKprobe" ? ev.event.value : undefined;
    const first = call(6_000_000_100n);
    const repeat = call(6_000_000_200n);
    expect(kprobe(repeat)).toBe(kprobe(first)); // shared: encoded once by the hub
    expect(repeat.time).not.toEqual(first.time); // each event keeps its own time

    const otherArgs = call(6_000_000_300n, { nstype: 0x4000000n });
    expect(kprobe(otherArgs)).not.toBe(kprobe(first));
    expect(at(json(otherArgs), "process_kprobe", "args")).toEqual([
      { int_arg: 3 },
      { int_arg: 0x4000000, label: "nstype" },
    ]);
    const otherThread = call(6_000_000_400n, { nstype: 0x4000000n, tid: 61 });
    expect(at(json(otherThread), "process_kprobe", "process", "tid")).toBe(61);
    expect(kprobe(otherThread)?.args).toBe(kprobe(otherArgs)?.args); // same registers: args reused
    const killed = call(6_000_000_500n, { nstype: 0x4000000n, tid: 61, action: 3 });
    expect(at(json(killed), "process_kprobe", "action")).toBe("KPROBE_ACTION_SIGKILL");
    // And each of them is exactly what a fresh build of the same call gives.
    const fresh = buildKprobeEvent(
      syscallInput({
        ktime: 6_000_000_500n,
        task: { ...task(60, 6_000_000_000n, 0), tid: 61 },
        action: 3,
        args: [3n, 0x4000000n],
      }),
      { ...SETNS },
      cache,
      ctx,
    );
    expect(json(killed)).toEqual(json(fresh));
  });

  it("a repeated call into another namespace (same registers) is a new message with its own verdict", () => {
    const cache = newCache();
    cache.upsertFromExec(execRaw(70, 7_000_000_000n, 0, 0n, "/usr/bin/nsenter", []));
    const spec: KprobeHookSpec = { ...SETNS };
    const net = 1 << nativeConstants.nsIndex.net;
    const into = (target: number, toHost: boolean) =>
      buildKprobeEvent(
        syscallInput({
          ktime: 7_000_000_100n,
          task: task(70, 7_000_000_000n, 0),
          action: 1,
          args: [3n, 0x40000000n],
          fdKind: "nsfs",
          nsChange: {
            kinds: net,
            created: 0,
            toHost: toHost ? net : 0,
            fromHost: 0,
            target: Array.from({ length: 10 }, (_, i) => (i === nativeConstants.nsIndex.net ? target : 0)),
            before: Object.values(HOST).map((v, i) => (i === nativeConstants.nsIndex.net ? 4026532100 : v)),
          },
        }),
        spec,
        cache,
        ctx,
      );
    const direction = (ev: GetEventsResponse) =>
      at(json(ev), "process_kprobe", "namespace_changes", "changes");
    const other = into(4026532200, false);
    const host = into(4026531833, true);
    expect(direction(other)).toEqual([
      expect.objectContaining({ direction: "NAMESPACE_DIRECTION_CONTAINER_TO_CONTAINER", after: 4026532200 }),
    ]);
    expect(direction(host)).toEqual([
      expect.objectContaining({ direction: "NAMESPACE_DIRECTION_CONTAINER_TO_HOST", after: 4026531833 }),
    ]);
    expect(at(json(host), "process_kprobe", "namespace_changes", "escape")).toBe(true);
    expect(direction(into(4026531833, true))).toEqual(direction(host)); // a repeat: the same message
  });

  it("does not let a consumer's edits of the event leak into the cache", () => {
    const cache = newCache();
    const raw = execRaw(50, 5_000_000_000n, 0, 0n, "/bin/sh", []);
    const rec = cache.upsertFromExec(raw);
    const sys = syscallInput({
      ktime: 5_000_000_001n,
      task: task(50, 5_000_000_000n, 0),
      action: 1,
      args: [3n, 0n],
    });
    const ev = buildKprobeEvent(sys, SETNS, cache, ctx);
    if (ev.event.case !== "processKprobe" || !ev.event.value.process?.startTime) throw new Error("shape");
    ev.event.value.process.startTime.seconds = 0n;
    expect(rec.startTime.seconds).not.toBe(0n);
  });
});

describe("buildKprobeEvent: return: true hooks", () => {
  const spec = (): KprobeHookSpec => ({ ...SETNS, returnArg: { kind: "int_arg", label: "ret" } });
  const call = (hook: KprobeHookSpec, cache: ProcessCache, ktime: bigint, ret: bigint, action = 1) =>
    buildKprobeEvent(
      syscallInput({
        ktime,
        task: task(80, 8_000_000_000n, 0),
        action: 1,
        args: [99n, 0n],
        returned: { value: ret, action },
      }),
      hook,
      cache,
      ctx,
    );

  it("reports the return value as the returnArg type in `return`, with the return action", () => {
    const cache = newCache();
    cache.upsertFromExec(execRaw(80, 8_000_000_000n, 0, 0n, "/usr/bin/nsenter", []));
    const hook = spec();
    const failed = json(call(hook, cache, 8_000_000_100n, -9n));
    expect(at(failed, "process_kprobe", "return")).toEqual({ int_arg: -9, label: "ret" });
    expect(at(failed, "process_kprobe", "return_action")).toBe("KPROBE_ACTION_POST");
    // Same call, another result: a new message, not the memoised one.
    const ok = json(call(hook, cache, 8_000_000_200n, 0n));
    expect(at(ok, "process_kprobe", "return")).toEqual({ int_arg: 0, label: "ret" });
    const killed = json(call(hook, cache, 8_000_000_300n, 0n, 3));
    expect(at(killed, "process_kprobe", "return_action")).toBe("KPROBE_ACTION_SIGKILL");
  });

  it("has no `return` for hooks without a returnArg or records made at the call", () => {
    const cache = newCache();
    cache.upsertFromExec(execRaw(80, 8_000_000_000n, 0, 0n, "/usr/bin/nsenter", []));
    expect(
      at(json(call({ ...SETNS }, cache, 8_000_000_100n, -9n)), "process_kprobe", "return"),
    ).toBeUndefined();
    const atCall = buildKprobeEvent(
      syscallInput({ ktime: 8_000_000_200n, task: task(80, 8_000_000_000n, 0), action: 1, args: [3n, 0n] }),
      spec(),
      cache,
      ctx,
    );
    expect(at(json(atCall), "process_kprobe", "return")).toBeUndefined();
  });
});
