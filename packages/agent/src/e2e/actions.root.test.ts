import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  createNsguardClient,
  EventType,
  type GetEventsResponse,
  KprobeAction,
  type ProcessKprobe,
} from "@nsguard/sdk";
import { afterAll, beforeAll, describe, expect } from "vitest";
import type { RunningAgent } from "../agent.js";
import { isRoot, rootIt, startExampleAgent, waitFor } from "./root-tier.js";

// Issue 8's actions on the real kernel: Signal sends exactly argSig to the caller (and monitor
// mode only reports), and Post's rateLimit posts once per scope key per window, the kernel
// counting what it suppressed. One agent for the file; each test adds its policy, runs the
// workload (fixtures/nscall.c: unshare(2) from N processes x M threads, reporting the signals it
// received) and deletes the policy again. Every policy matches only the workload's binary, so
// nothing else on this shared machine is signalled or counted.

const run = promisify(execFile);
const CLONE_NEWUTS = 0x04000000;
const CLONE_NEWIPC = 0x08000000;

interface Report {
  pid: number;
  calls: number;
  signals: number[];
}

function parseReports(stdout: string): Report[] {
  return stdout
    .trim()
    .split("\n")
    .filter((l) => l.startsWith("pid="))
    .map((line) => {
      const [, pid, calls, signals] = /^pid=(\d+) calls=(\d+) signals=([\d,]*)$/.exec(line) ?? [];
      return {
        pid: Number(pid),
        calls: Number(calls),
        signals: signals ? signals.split(",").map(Number) : [],
      };
    });
}

const policyYaml = (name: string, nscall: string, actions: string, options = "") => `
apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: "${name}"
spec:
${options}
  kprobes:
  - call: "sys_unshare"
    syscall: true
    args:
    - index: 0
      type: "int"
      label: "flags"
    selectors:
    - matchBinaries:
      - operator: In
        values: ["${nscall}"]
      matchActions: ${actions}
`;

describe.runIf(isRoot || process.env.CI)("actions: Signal and rateLimit (root tier)", () => {
  let dir: string;
  let nscall: string;
  let agent: RunningAgent;
  const events: GetEventsResponse[] = [];
  const abort = new AbortController();

  beforeAll(async () => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), "nsguard-actions-")));
    // A name of this run's own, so the stream's filter sees only this workload's events.
    nscall = join(dir, `nscall-${process.pid}`);
    execFileSync("cc", [
      "-O2",
      "-pthread",
      "-o",
      nscall,
      new URL("./fixtures/nscall.c", import.meta.url).pathname,
    ]);
    agent = await startExampleAgent("namespace-surface.yaml", {
      tracingPolicies: [],
      metricsServer: "127.0.0.1:0",
    });
    const url = agent.server.addresses.tcp?.url ?? "";
    const allowList = [
      {
        eventSet: [EventType.PROCESS_KPROBE, EventType.PROCESS_EXIT],
        binaryRegex: [`/nscall-${process.pid}$`],
      },
    ];
    const before = agent.hub.subscriberCount;
    (async () => {
      for await (const ev of createNsguardClient(url).getEvents({ allowList }, { signal: abort.signal }))
        events.push(ev);
    })().catch(() => undefined);
    await waitFor(() => agent.hub.subscriberCount > before, 5000, "the GetEvents stream to register");
  }, 60_000);
  afterAll(async () => {
    abort.abort();
    await agent?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Adds the policy, runs `fn`, deletes the policy (also when `fn` fails). */
  async function withPolicy<T>(yaml: string, fn: () => Promise<T>): Promise<T> {
    const name = /name: "([^"]+)"/.exec(yaml)?.[1] ?? "";
    await agent.policies.add(yaml, "grpc");
    try {
      return await fn();
    } finally {
      await agent.policies.delete(name, "", "grpc");
    }
  }

  const kprobesOf = (pids: number[]): ProcessKprobe[] =>
    events.flatMap((ev) =>
      ev.event.case === "processKprobe" && pids.includes(ev.event.value.process?.pid ?? -1)
        ? [ev.event.value]
        : [],
    );
  /** Waits for at least `n` events of the pids, then a while longer for a surplus one to show. */
  async function settle(pids: number[], n: number): Promise<ProcessKprobe[]> {
    await waitFor(() => kprobesOf(pids).length >= n, 10_000, `${n} events of ${pids.join(",")}`);
    await new Promise((r) => setTimeout(r, 500));
    return kprobesOf(pids);
  }
  const actionCounters = (name: string) =>
    agent.policies.list().find((p) => p.name === name)?.stats?.actionCounters;

  rootIt(
    "Signal argSig 10 delivers exactly SIGUSR1 to the caller, reported as KPROBE_ACTION_SIGNAL",
    async () => {
      const yaml = policyYaml("act-signal-usr1", nscall, "[{action: Signal, argSig: 10}]");
      await withPolicy(yaml, async () => {
        const { stdout } = await run(nscall, [String(CLONE_NEWUTS), "3"]);
        const [report] = parseReports(stdout);
        if (!report) throw new Error(`no report in ${stdout}`);
        // One SIGUSR1 per matching call, and no other signal.
        expect(report.signals).toEqual([10, 10, 10]);
        const kprobes = await settle([report.pid], 3);
        expect(kprobes).toHaveLength(3);
        for (const k of kprobes) {
          expect(k.action).toBe(KprobeAction.SIGNAL);
          expect(k.policyName).toBe("act-signal-usr1");
          expect(k.functionName).toBe("__x64_sys_unshare");
          expect(k.args[0]?.arg).toEqual({ case: "intArg", value: CLONE_NEWUTS });
        }
        // ListTracingPolicies counts sent signals as signal, not post (Tetragon's NENFORCE).
        expect(actionCounters("act-signal-usr1")).toMatchObject({ signal: 3n, post: 0n, monitorSignal: 0n });
      });
    },
  );

  rootIt(
    "Signal argSig 15 kills the caller with SIGTERM: in waitpid's status and in process_exit",
    async () => {
      const yaml = policyYaml("act-signal-term", nscall, "[{action: Signal, argSig: 15}]");
      await withPolicy(yaml, async () => {
        // -d: no handlers, so SIGTERM's default action (terminate) applies.
        const failed = await run(nscall, ["-d", String(CLONE_NEWUTS), "1"]).then(
          () => undefined,
          (e: { signal?: string; code?: number | null; stdout: string }) => e,
        );
        expect(failed?.signal).toBe("SIGTERM");
        // It died before printing: the signal arrived on the way back from the first unshare.
        expect(failed?.stdout).toBe("");
        const exits = () =>
          events.flatMap((ev) =>
            ev.event.case === "processExit" && ev.event.value.signal !== "" ? [ev.event.value] : [],
          );
        await waitFor(
          () => exits().some((e) => e.signal === "SIGTERM"),
          10_000,
          "the process_exit of SIGTERM",
        );
        const exit = exits().find((e) => e.signal === "SIGTERM");
        const pid = exit?.process?.pid ?? -1;
        expect(exit?.status).toBe(0);
        const kprobes = await settle([pid], 1);
        expect(kprobes.map((k) => k.action)).toEqual([KprobeAction.SIGNAL]);
      });
    },
  );

  rootIt("in monitor mode a Signal selector posts and signals nothing", async () => {
    const yaml = policyYaml(
      "act-signal-monitor",
      nscall,
      "[{action: Signal, argSig: 10}]",
      "  options:\n  - name: policy-mode\n    value: monitor",
    );
    await withPolicy(yaml, async () => {
      const { stdout } = await run(nscall, [String(CLONE_NEWUTS), "2"]);
      const [report] = parseReports(stdout);
      if (!report) throw new Error(`no report in ${stdout}`);
      expect(report.signals).toEqual([]);
      const kprobes = await settle([report.pid], 2);
      expect(kprobes.map((k) => k.action)).toEqual([KprobeAction.POST, KprobeAction.POST]);
      expect(actionCounters("act-signal-monitor")).toMatchObject({ signal: 0n, monitorSignal: 2n });
    });
  });

  /** Runs the workload under a rate-limited Post policy; returns its reports and events. */
  async function rateLimited(
    name: string,
    rate: string,
    scope: string,
    args: string[],
  ): Promise<{ reports: Report[]; kprobes: ProcessKprobe[]; suppressed: bigint }> {
    const before = agent.sensor.counters().kernel.rateLimited;
    const yaml = policyYaml(name, nscall, `[{action: Post, rateLimit: "${rate}", rateLimitScope: ${scope}}]`);
    return withPolicy(yaml, async () => {
      const reports = (await Promise.all([run(nscall, args)])).flatMap(({ stdout }) => parseReports(stdout));
      const calls = reports.reduce((n, r) => n + r.calls, 0);
      expect(calls).toBeGreaterThan(0);
      const pids = reports.map((r) => r.pid);
      // Wait for the first event, then for a surplus one to show up.
      const kprobes = await settle(pids, 1);
      return { reports, kprobes, suppressed: agent.sensor.counters().kernel.rateLimited - before };
    });
  }

  rootIt("rateLimit thread scope: one post per thread per window; the kernel counts the rest", async () => {
    const { reports, kprobes, suppressed } = await rateLimited("act-rate-thread", "1m", "thread", [
      "-t",
      "3",
      String(CLONE_NEWUTS),
      "10",
    ]);
    expect(reports).toHaveLength(1);
    expect(kprobes).toHaveLength(3);
    expect(new Set(kprobes.map((k) => k.process?.tid)).size).toBe(3);
    expect(kprobes.every((k) => k.action === KprobeAction.POST)).toBe(true);
    expect(suppressed).toBe(27n);
  });

  rootIt("rateLimit process scope: one post per process per window", async () => {
    const { reports, kprobes, suppressed } = await rateLimited("act-rate-process", "1m", "process", [
      "-p",
      "3",
      "-t",
      "2",
      String(CLONE_NEWUTS),
      "5",
    ]);
    expect(reports).toHaveLength(3);
    expect(kprobes).toHaveLength(3);
    expect(new Set(kprobes.map((k) => k.process?.pid))).toEqual(new Set(reports.map((r) => r.pid)));
    expect(suppressed).toBe(27n);
  });

  rootIt("rateLimit global scope: one post per window over every process", async () => {
    const { kprobes, suppressed } = await rateLimited("act-rate-global", "1m", "global", [
      "-p",
      "3",
      "-t",
      "2",
      String(CLONE_NEWUTS),
      "5",
    ]);
    expect(kprobes).toHaveLength(1);
    expect(suppressed).toBe(29n);
    // What was suppressed is on the metrics endpoint too.
    const text = await (await fetch(agent.metricsUrl ?? "")).text();
    const total = Number(/^nsguard_policy_rate_limited_total (\d+)$/m.exec(text)?.[1]);
    expect(total).toBeGreaterThanOrEqual(29);
  });

  rootIt("rateLimit: different arguments are separate keys", async () => {
    const yaml = policyYaml(
      "act-rate-args",
      nscall,
      '[{action: Post, rateLimit: "1m", rateLimitScope: global}]',
    );
    await withPolicy(yaml, async () => {
      const reports = [
        ...parseReports((await run(nscall, [String(CLONE_NEWUTS), "5"])).stdout),
        ...parseReports((await run(nscall, [String(CLONE_NEWIPC), "5"])).stdout),
        ...parseReports((await run(nscall, [String(CLONE_NEWUTS), "5"])).stdout),
      ];
      const kprobes = await settle(
        reports.map((r) => r.pid),
        2,
      );
      expect(kprobes.map((k) => k.args[0]?.arg.value)).toEqual([CLONE_NEWUTS, CLONE_NEWIPC]);
    });
  });

  rootIt(
    "rateLimit: after the window a call posts again",
    async () => {
      const yaml = policyYaml(
        "act-rate-window",
        nscall,
        '[{action: Post, rateLimit: "1", rateLimitScope: process}]',
      );
      await withPolicy(yaml, async () => {
        // 3 calls 1.5 s apart, each past the previous one's 1 s window, so each posts. (Only the
        // window logic is asserted: the sleeps are far from its edge; "at most" is the 1m tests'.)
        const { stdout } = await run(nscall, ["-s", "1500", String(CLONE_NEWUTS), "3"]);
        const [report] = parseReports(stdout);
        if (!report) throw new Error(`no report in ${stdout}`);
        const kprobes = await settle([report.pid], 3);
        expect(kprobes).toHaveLength(3);
      });
    },
    30_000,
  );
});
