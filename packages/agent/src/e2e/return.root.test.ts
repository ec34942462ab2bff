import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { type GetEventsResponse, KprobeAction } from "@nsguard/sdk";
import { afterAll, beforeAll, describe, expect } from "vitest";
import { type RunningAgent, startAgent } from "../agent.js";
import { collectKprobes, isRoot, kprobeOf, rootIt, waitFor } from "./root-tier.js";

const run = promisify(execFile);

// `return: true` hooks, evaluated in the kernel: the call's record waits for the thread's return
// from the syscall (tp_btf/sys_exit) and is posted with the return value, after matchReturnArgs.
const policy = (name: string, selectors: string[]) =>
  [
    "apiVersion: cilium.io/v1alpha1",
    "kind: TracingPolicy",
    `metadata: {name: ${name}}`,
    "spec:",
    "  kprobes:",
    "  - call: sys_setns",
    "    syscall: true",
    "    return: true",
    "    args: [{index: 0, type: int}, {index: 1, type: int}]",
    "    returnArg: {index: 0, type: int}",
    ...selectors.map((l) => `    ${l}`),
    "",
  ].join("\n");

/** One failing setns (a descriptor that is not open: -EBADF) and one that works (into its own netns). */
const SETNS_TWICE = `
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
SETNS = 308
print(os.getpid(), flush=True)
bad = libc.syscall(SETNS, 9999, 0)
fd = os.open("/proc/self/ns/net", os.O_RDONLY)
ok = libc.syscall(SETNS, fd, 0x40000000)
print(bad, ok, fd, flush=True)
`;

const EBADF = 9;

describe.runIf(isRoot || process.env.CI)("return probes on syscall hooks (root tier)", () => {
  const dir = mkdtempSync(join(tmpdir(), "nsguard-return-"));
  const abort = new AbortController();
  let agent: RunningAgent;
  let events: GetEventsResponse[];
  const kprobesOf = (name: string, pid: number) =>
    events.map(kprobeOf).filter((k) => k.policyName === name && k.process?.pid === pid);

  beforeAll(async () => {
    const failed = join(dir, "failed-setns.yaml");
    const every = join(dir, "every-setns.yaml");
    writeFileSync(
      failed,
      policy("failed-setns", [
        "selectors:",
        "- matchReturnArgs: [{index: 0, operator: NotEqual, values: ['0']}]",
      ]),
    );
    writeFileSync(every, policy("every-setns", []));
    agent = await startAgent({
      tracingPolicies: [failed, every],
      serverAddress: "127.0.0.1:0",
      serverSocket: "",
      nodeName: "return-e2e",
      eventQueueSize: 1000,
      logLevel: "silent",
    });
    events = await collectKprobes(
      agent,
      { policyNames: ["failed-setns", "every-setns", "plain-setns", "kill-failed-setns"] },
      abort.signal,
    );
  }, 60_000);
  afterAll(async () => {
    abort.abort();
    await agent?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  rootIt("matchReturnArgs NotEqual 0 reports only the failing setns, with return -EBADF", async () => {
    const { stdout } = await run("python3", ["-c", SETNS_TWICE]);
    const [pidLine, results] = stdout.trim().split("\n");
    const pid = Number(pidLine);
    const [bad, ok, fd] = (results ?? "").split(" ").map(Number);
    expect([bad, ok]).toEqual([-1, 0]); // libc's syscall(): -1 and errno for the failure
    // The hook without matchReturnArgs posts both calls; records of one return come in hook order,
    // so once both are here the filtered hook's would be too.
    await waitFor(() => kprobesOf("every-setns", pid).length >= 2, 10_000, "both setns calls of every-setns");

    const reported = kprobesOf("failed-setns", pid);
    expect(reported).toHaveLength(1);
    const [failure] = reported;
    expect(failure?.functionName).toBe("__x64_sys_setns");
    expect(failure?.args.map((a) => a.arg)).toEqual([
      { case: "intArg", value: 9999 },
      { case: "intArg", value: 0 },
    ]);
    expect(failure?.return?.arg).toEqual({ case: "intArg", value: -EBADF });
    expect(failure?.action).toBe(KprobeAction.POST);
    expect(failure?.returnAction).toBe(KprobeAction.POST);

    const both = kprobesOf("every-setns", pid);
    expect(both.map((k) => [k.args[0]?.arg, k.return?.arg])).toEqual([
      [
        { case: "intArg", value: 9999 },
        { case: "intArg", value: -EBADF },
      ],
      [
        { case: "intArg", value: fd },
        { case: "intArg", value: 0 },
      ],
    ]);
  });

  rootIt("the sys_exit program is attached only while a return hook is loaded", async () => {
    const before = bpfLinks();
    // A hook at the call needs only the dispatcher, which is attached already.
    await agent.policies.add(
      policy("plain-setns", []).replace(/ {4}(return: true|returnArg: .*)\n/g, ""),
      "grpc",
    );
    expect(bpfLinks()).toBe(before);
    // Without return hooks the sys_exit link goes; the dispatcher stays for plain-setns.
    await agent.policies.delete("failed-setns", "", "static");
    await agent.policies.delete("every-setns", "", "static");
    expect(bpfLinks()).toBe(before - 1);
    await agent.policies.add(policy("again-setns", []), "grpc");
    expect(bpfLinks()).toBe(before);
    await agent.policies.delete("again-setns", "", "grpc");
    expect(bpfLinks()).toBe(before - 1);

    // And plain-setns reports at the call, without a return value.
    const { stdout } = await run("python3", ["-c", SETNS_TWICE]);
    const pid = Number(stdout.split("\n")[0]);
    await waitFor(() => kprobesOf("plain-setns", pid).length >= 2, 10_000, "both calls of plain-setns");
    expect(kprobesOf("plain-setns", pid).map((k) => k.return)).toEqual([undefined, undefined]);
  });

  rootIt(
    "matchReturnActions Sigkill kills the caller at the return of a failed call, and reports it",
    async () => {
      await agent.policies.add(
        policy("kill-failed-setns", [
          "selectors:",
          "- matchArgs: [{index: 0, operator: Equal, values: ['7777']}]",
          "  matchReturnArgs: [{operator: NotEqual, values: ['0']}]",
          "  matchReturnActions: [{action: Sigkill}]",
        ]),
        "grpc",
      );
      const script = `
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
print(os.getpid(), flush=True)
libc.syscall(308, 7777, 0)
print("survived", flush=True)
`;
      const result = await run("python3", ["-c", script]).catch((e: { stdout: string; signal: string }) => e);
      expect(result.stdout).not.toContain("survived");
      expect((result as { signal?: string }).signal).toBe("SIGKILL");
      const pid = Number(result.stdout.split("\n")[0]);
      await waitFor(() => kprobesOf("kill-failed-setns", pid).length >= 1, 10_000, "the killed call's event");
      const [k] = kprobesOf("kill-failed-setns", pid);
      expect(k?.return?.arg).toEqual({ case: "intArg", value: -EBADF });
      expect(k?.action).toBe(KprobeAction.POST);
      expect(k?.returnAction).toBe(KprobeAction.SIGKILL);
      // The policy's counters count the kill at the return as a signal, not a post.
      const counters = agent.policies.list().find((p) => p.name === "kill-failed-setns")
        ?.stats?.actionCounters;
      expect(counters).toMatchObject({ signal: 1n, post: 0n });
      await agent.policies.delete("kill-failed-setns", "", "grpc");
    },
  );
});

/** BPF links this process holds (the agent's attachments): /proc/self/fd entries of anon_inode:bpf_link. */
function bpfLinks(): number {
  let n = 0;
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === "anon_inode:bpf_link") n++;
    } catch {
      // the fd readdir itself used, or a racing close
    }
  }
  return n;
}
