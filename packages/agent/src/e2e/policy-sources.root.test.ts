import { execFile, execFileSync } from "node:child_process";
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  createNsguardClient,
  type GetEventsResponse,
  KprobeAction,
  type ProcessKprobe,
  TracingPolicyState,
  type TracingPolicyStatus,
} from "@nsguard/sdk";
import { afterAll, describe, expect } from "vitest";
import type { RunningAgent } from "../agent.js";
import { startHostAnchor } from "../sim/simulated-container.js";
import {
  collectKprobes,
  EXAMPLES,
  isRoot,
  kprobeOf,
  rootIt,
  startExampleAgent,
  waitFor,
} from "./root-tier.js";

// Where a policy comes from must not matter, and a bad policy must not matter to the others:
// the malformed corpus (packages/policy/testdata/malformed) added to a running agent over its
// gRPC socket (what `nsguard tracingpolicy add` calls), and one policy loaded at start versus
// added later, both on the real kernel.

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "nsguard-policy-sources-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CORPUS = new URL("../../../policy/testdata/malformed/", import.meta.url).pathname;
const corpus = readdirSync(CORPUS)
  .filter((f) => f.endsWith(".yaml"))
  .sort()
  .map((file) => {
    const text = readFileSync(join(CORPUS, file), "utf8");
    const header = (name: string) => new RegExp(`^# ${name}: ?(.*)$`, "m").exec(text)?.[1] ?? "";
    const name = /^ {2}name: "?([^"\n]+)"?$/m.exec(text)?.[1];
    return { file, text, name, stage: header("stage"), error: header("error") };
  });

/** What must not depend on where the policy came from: not times, pids or exec ids. */
function signature(k: ProcessKprobe): string {
  return JSON.stringify(
    {
      binary: k.process?.binary,
      policy: k.policyName,
      function: k.functionName,
      args: k.args.map((a) => a.arg),
      action: k.action,
    },
    (_key, value) => (typeof value === "bigint" ? value.toString() : value),
  );
}

/**
 * A fixed workload in fresh namespaces: unshare(1) (an unshare of net+mnt), then, from inside,
 * nsenter(1) into the host's network namespace (a setns). Returns the events it caused.
 */
async function workload(events: GetEventsResponse[], anchorPid: number, expected: number): Promise<string[]> {
  const { stdout } = await run("unshare", [
    "-n",
    "-m",
    "sh",
    "-c",
    `echo $$; nsenter -t ${anchorPid} -n true; echo rc=$?`,
  ]);
  const pid = Number(stdout.split("\n")[0]);
  const ours = () => events.map(kprobeOf).filter((k) => k.process?.pid === pid || k.parent?.pid === pid);
  await waitFor(() => ours().length >= expected, 10_000, "the workload's events");
  // Time for a surplus event (a duplicate, or one a policy should not have caused) to show up.
  await new Promise((r) => setTimeout(r, 300));
  return ours().map(signature).sort();
}

// Only the workload's binaries: other tests on this shared machine may flood setns meanwhile.
const WORKLOAD_FILTER = { policyNames: ["namespace-surface"], binaryRegex: ["/unshare$", "/nsenter$"] };

const comparable = (list: TracingPolicyStatus[]) =>
  list.map((p) => ({
    id: p.id,
    name: p.name,
    state: p.state,
    mode: p.mode,
    domain: p.domain,
    error: p.error,
  }));

describe.runIf(isRoot || process.env.CI)("policy sources (root tier)", () => {
  rootIt(
    "no malformed policy added to a running agent changes what is loaded or what it reports",
    async () => {
      const socket = join(dir, "corpus.sock");
      const agent = await startExampleAgent("namespace-surface.yaml", { serverSocket: socket });
      const anchor = startHostAnchor();
      const abort = new AbortController();
      const client = createNsguardClient(`unix://${socket}`);
      try {
        const events = await collectKprobes(agent, WORKLOAD_FILTER, abort.signal);
        const before = await workload(events, anchor.pid, 2);
        expect(before.map((s) => JSON.parse(s).function)).toEqual(["__x64_sys_setns", "__x64_sys_unshare"]);
        const listed = comparable((await client.listTracingPolicies({})).policies);

        expect(corpus.length).toBeGreaterThanOrEqual(40);
        for (const c of corpus) {
          const refused = await client.addTracingPolicy({ yaml: c.text }).then(
            () => undefined,
            (e) => ConnectError.from(e),
          );
          expect(refused, c.file).toBeInstanceOf(ConnectError);
          // Without a file name (the RPC carries only YAML) the message is the header's exactly.
          expect(refused?.rawMessage, c.file).toBe(c.error);
          const now = (await client.listTracingPolicies({})).policies;
          if (c.stage === "parse") {
            expect(refused?.code, c.file).toBe(Code.InvalidArgument);
            expect(comparable(now), c.file).toEqual(listed);
            continue;
          }
          // Parsed but not loadable: listed as a load error (Tetragon's LoadErrorState), beside
          // everything else unchanged, until deleted.
          if (c.stage === "compile") expect(refused?.code, c.file).toBe(Code.InvalidArgument);
          const failed = now.filter((p) => p.name === c.name);
          expect(
            failed.map((p) => [p.state, p.enabled, p.error, p.domain]),
            c.file,
          ).toEqual([[TracingPolicyState.TP_STATE_LOAD_ERROR, false, c.error, "grpc"]]);
          expect(comparable(now.filter((p) => p.name !== c.name)), c.file).toEqual(listed);
          await client.deleteTracingPolicy({ name: c.name ?? "" });
          expect(comparable((await client.listTracingPolicies({})).policies), c.file).toEqual(listed);
        }

        expect(await workload(events, anchor.pid, 2)).toEqual(before);
      } finally {
        abort.abort();
        anchor.stop();
        await agent.stop();
      }
    },
    180_000,
  );

  rootIt(
    "a policy added with tracingpolicy add reports exactly what the same file loaded at start does",
    async () => {
      const anchor = startHostAnchor();
      try {
        // Loaded at start (--tracing-policy).
        let agent: RunningAgent = await startExampleAgent("namespace-surface.yaml");
        let abort = new AbortController();
        let atStart: string[];
        try {
          const events = await collectKprobes(agent, WORKLOAD_FILTER, abort.signal);
          atStart = await workload(events, anchor.pid, 2);
        } finally {
          abort.abort();
          await agent.stop();
        }

        // Added over gRPC to an agent started without it.
        const socket = join(dir, "added.sock");
        agent = await startExampleAgent("namespace-surface.yaml", {
          tracingPolicies: [],
          serverSocket: socket,
        });
        abort = new AbortController();
        try {
          const events = await collectKprobes(agent, WORKLOAD_FILTER, abort.signal);
          const yaml = readFileSync(join(EXAMPLES, "namespace-surface.yaml"), "utf8");
          await createNsguardClient(`unix://${socket}`).addTracingPolicy({ yaml });
          const added = await workload(events, anchor.pid, 2);
          expect(added).toEqual(atStart);
          expect(added.map((s) => JSON.parse(s).function)).toEqual(["__x64_sys_setns", "__x64_sys_unshare"]);
        } finally {
          abort.abort();
          await agent.stop();
        }
      } finally {
        anchor.stop();
      }
    },
    120_000,
  );
  rootIt(
    "a policy with matchBinaries, a string matchArgs and Signal behaves the same added as loaded at start",
    async () => {
      // The policy's binary is a copy of nsenter under a name of this run's own: a Signal policy
      // on /usr/bin/nsenter would signal other tests' nsenter on this shared machine.
      const nsenter = join(realpathSync(dir), `nsenter-psrc-${process.pid}`);
      copyFileSync(realpathSync("/usr/bin/nsenter"), nsenter);
      execFileSync("chmod", ["755", nsenter]);
      const yaml = `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: "psrc-selectors"
spec:
  kprobes:
  - call: "sys_setns"
    syscall: true
    args:
    - index: 0
      type: "fd"
    - index: 1
      type: "int"
    selectors:
    # Entering a network namespace (the fd's path, nsfs: "net:[inode]"): SIGUSR1, which kills.
    - matchBinaries: [{operator: In, values: ["${nsenter}"]}]
      matchArgs: [{index: 0, operator: Prefix, values: ["net:["]}]
      matchActions: [{action: Signal, argSig: 10}]
    # Any other namespace: reported.
    - matchBinaries: [{operator: In, values: ["${nsenter}"]}]
`;
      const file = join(dir, "psrc-selectors.yaml");
      writeFileSync(file, yaml);
      const filter = { policyNames: ["psrc-selectors"] };
      const anchor = startHostAnchor();
      /** unshare(1) then two nsenters into the host's mnt (reported) and net (signalled). */
      const selectorsWorkload = async (events: GetEventsResponse[]) => {
        const { stdout } = await run("unshare", [
          "-n",
          "-m",
          "sh",
          "-c",
          `echo $$; ${nsenter} -t ${anchor.pid} -m true; echo mnt=$?; ${nsenter} -t ${anchor.pid} -n true; echo net=$?`,
        ]);
        const pid = Number(stdout.split("\n")[0]);
        // 0, then 128 + SIGUSR1: the signal's default action ended the second nsenter.
        expect(stdout).toContain("mnt=0\nnet=138");
        const ours = () => events.map(kprobeOf).filter((k) => k.parent?.pid === pid);
        await waitFor(() => ours().length >= 2, 10_000, "the workload's events");
        await new Promise((r) => setTimeout(r, 300));
        return ours().map(signature).sort();
      };
      try {
        let agent: RunningAgent = await startExampleAgent("namespace-surface.yaml", {
          tracingPolicies: [file],
        });
        let abort = new AbortController();
        let atStart: string[];
        try {
          atStart = await selectorsWorkload(await collectKprobes(agent, filter, abort.signal));
        } finally {
          abort.abort();
          await agent.stop();
        }
        const socket = join(dir, "selectors.sock");
        agent = await startExampleAgent("namespace-surface.yaml", {
          tracingPolicies: [],
          serverSocket: socket,
        });
        abort = new AbortController();
        try {
          const events = await collectKprobes(agent, filter, abort.signal);
          await createNsguardClient(`unix://${socket}`).addTracingPolicy({ yaml });
          const added = await selectorsWorkload(events);
          expect(added).toEqual(atStart);
          expect(added.map((s) => JSON.parse(s).action).sort()).toEqual(
            [KprobeAction.POST, KprobeAction.SIGNAL].sort(),
          );
          expect(added.map((s) => JSON.parse(s).binary)).toEqual([nsenter, nsenter]);
        } finally {
          abort.abort();
          await agent.stop();
        }
      } finally {
        anchor.stop();
      }
    },
    120_000,
  );
  rootIt(
    "--tracing-policy-dir on the kernel: a file dropped in loads, a bad one beside it changes nothing, a removed one unloads",
    async () => {
      const policies = join(dir, "tracing-policies.d");
      mkdirSync(policies);
      const anchor = startHostAnchor();
      const agent = await startExampleAgent("namespace-surface.yaml", {
        tracingPolicies: [],
        tracingPolicyDir: policies,
      });
      const abort = new AbortController();
      try {
        const events = await collectKprobes(agent, WORKLOAD_FILTER, abort.signal);
        const surface = readFileSync(join(EXAMPLES, "namespace-surface.yaml"), "utf8");
        writeFileSync(join(policies, "surface.yaml"), surface);
        const bad = corpus.find((c) => c.stage === "load");
        if (bad === undefined) throw new Error("corpus lacks a load-stage policy");
        writeFileSync(join(policies, "kernel-function.yaml"), bad.text);
        await waitFor(() => agent.policies.list().length === 2, 10_000, "both files to be applied");
        const byName = new Map(agent.policies.list().map((p) => [p.name, p]));
        expect(byName.get("namespace-surface")?.state).toBe(TracingPolicyState.TP_STATE_ENABLED);
        expect(byName.get(bad.name ?? "")).toMatchObject({
          state: TracingPolicyState.TP_STATE_LOAD_ERROR,
          error: bad.error,
        });
        expect((await workload(events, anchor.pid, 2)).map((s) => JSON.parse(s).function)).toEqual([
          "__x64_sys_setns",
          "__x64_sys_unshare",
        ]);

        unlinkSync(join(policies, "surface.yaml"));
        await waitFor(
          () => agent.policies.list().length === 1,
          10_000,
          "the removed file's policy to unload",
        );
        const seen = events.length;
        await run("unshare", ["-n", "true"]);
        await new Promise((r) => setTimeout(r, 500));
        expect(events.length).toBe(seen);
      } finally {
        abort.abort();
        anchor.stop();
        await agent.stop();
      }
    },
    120_000,
  );
});
