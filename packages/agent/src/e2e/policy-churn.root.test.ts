import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { TracingPolicyState } from "@nsguard/sdk";
import { afterAll, beforeAll, describe, expect } from "vitest";
import type { RunningAgent } from "../agent.js";
import { isRoot, rootIt, startExampleAgent } from "./root-tier.js";

// Adding and deleting each selector's policy 100 times leaves the kernel where it was after the
// first load: the same programs and maps (by id: nothing re-created, nothing leaked), no link,
// and the shared string and follow maps back to empty. In-process, through the agent's policy
// store (what AddTracingPolicy / DeleteTracingPolicy call), so the BPF objects counted are
// exactly this process's: other tests on this shared machine load their own meanwhile.

const ROUNDS = 100;
// Paths no process runs, so the Signal policy signals nobody and matchBinaries matches nothing.
const NOBODY = "/nonexistent/nsguard-churn";

const hook = (call: string, args: string, selector: string) => `
  - call: "${call}"
    syscall: true
    args:
${args}
    selectors:
    - ${selector}`;
const SETNS_ARGS = `    - index: 0
      type: "int"
    - index: 1
      type: "int"`;
const setns = (selector: string) => hook("sys_setns", SETNS_ARGS, selector);
const policy = (name: string, kprobes: string, kind = "TracingPolicy", extra = "") => `
apiVersion: cilium.io/v1alpha1
kind: ${kind}
metadata:
  name: "${name}"${extra}
spec:
  kprobes:${kprobes}
`;

const POLICIES: Record<string, string> = {
  matchPIDs: policy("churn-pids", setns("matchPIDs: [{operator: NotIn, followForks: true, values: [1, 2]}]")),
  "matchArgs int": policy(
    "churn-args-int",
    setns('matchArgs: [{index: 1, operator: Equal, values: ["0x40000000"]}]'),
  ),
  "matchArgs string": policy(
    "churn-args-string",
    hook(
      "sys_setns",
      '    - index: 0\n      type: "fd"',
      'matchArgs: [{index: 0, operator: Postfix, values: ["/ns/net", "/ns/mnt"]}]',
    ) +
      hook(
        "sys_chroot",
        '    - index: 0\n      type: "filename"',
        `matchArgs: [{index: 0, operator: Prefix, values: ["${NOBODY}"]}]`,
      ) +
      hook(
        "sys_chroot",
        '    - index: 0\n      type: "filename"',
        `matchArgs: [{index: 0, operator: Equal, values: ["${NOBODY}/root"]}]`,
      ),
  ),
  matchBinaries: policy(
    "churn-binaries",
    setns(`matchBinaries: [{operator: In, followChildren: true, values: ["${NOBODY}/a", "${NOBODY}/b"]}]`) +
      setns(`matchBinaries: [{operator: NotPostfix, values: ["/nsguard-churn-never"]}]`),
  ),
  matchNamespaces: policy(
    "churn-namespaces",
    setns("matchNamespaces: [{namespace: Mnt, operator: NotIn, values: [host_ns, 4026531999]}]"),
  ),
  matchNamespaceChanges: policy(
    "churn-ns-changes",
    setns("matchNamespaceChanges: [{operator: In, values: [Net, Mnt]}]"),
  ),
  matchCapabilities: policy(
    "churn-caps",
    setns("matchCapabilities: [{type: Effective, operator: In, values: [CAP_SYS_ADMIN]}]"),
  ),
  matchCapabilityChanges: policy(
    "churn-cap-changes",
    setns("matchCapabilityChanges: [{type: Effective, operator: In, values: [CAP_SYS_ADMIN]}]"),
  ),
  matchHostNamespaceEntry: policy(
    "churn-host-entry",
    setns("matchHostNamespaceEntry: [{operator: In, values: [Mnt, Net]}]"),
  ),
  Signal: policy(
    "churn-signal",
    setns(
      `matchBinaries: [{operator: In, values: ["${NOBODY}/c"]}]\n      matchActions: [{action: Signal, argSig: 10}]`,
    ),
  ),
  rateLimit: policy(
    "churn-rate",
    setns('matchActions: [{action: Post, rateLimit: "1m", rateLimitScope: process}]'),
  ),
  podSelector: policy(
    "churn-namespaced",
    setns("matchNamespaceChanges: [{operator: In, values: [Net]}]"),
    "TracingPolicyNamespaced",
    "\n  namespace: churn-ns",
  ).replace("spec:\n", "spec:\n  podSelector:\n    matchLabels:\n      app: churn\n"),
};

/** The BPF objects this process holds, by kind, from its fds (`fdinfo` names each object's id). */
function heldObjects(): { prog: number[]; map: number[]; link: number[] } {
  const out = { prog: new Set<number>(), map: new Set<number>(), link: new Set<number>() };
  for (const fd of readdirSync("/proc/self/fd")) {
    let info: string;
    try {
      if (!readlinkSync(`/proc/self/fd/${fd}`).startsWith("anon_inode:bpf")) continue;
      info = readFileSync(`/proc/self/fdinfo/${fd}`, "utf8");
    } catch {
      continue; // closed meanwhile
    }
    for (const kind of ["prog", "map", "link"] as const) {
      const id = new RegExp(`^${kind}_id:\\s*(\\d+)`, "m").exec(info)?.[1];
      if (id !== undefined) out[kind].add(Number(id));
    }
  }
  const sorted = (s: Set<number>) => [...s].sort((a, b) => a - b);
  return { prog: sorted(out.prog), map: sorted(out.map), link: sorted(out.link) };
}

const bpftool = (...args: string[]) =>
  JSON.parse(execFileSync("/usr/sbin/bpftool", [...args, "-j"], { encoding: "utf8" })) as unknown;

/** Entries of our maps whose (15-byte kernel) name starts with `prefix`: their dumps, by id. */
function dumpMaps(prefix: string): Map<number, { key: string[]; value: string[] }[]> {
  const ours = new Set(heldObjects().map);
  const maps = (bpftool("map", "show") as { id: number; name?: string }[]).filter(
    (m) => ours.has(m.id) && m.name?.startsWith(prefix),
  );
  return new Map(
    maps.map((m) => [
      m.id,
      bpftool("map", "dump", "id", String(m.id)) as { key: string[]; value: string[] }[],
    ]),
  );
}
const nonEmpty = (dump: Map<number, { value: string[] }[]>, allZeroIsEmpty = false) =>
  [...dump.values()].flat().filter((e) => !allZeroIsEmpty || e.value.some((b) => Number(b) !== 0));

describe.runIf(isRoot || process.env.CI)("policy churn (root tier)", () => {
  let agent: RunningAgent;
  beforeAll(async () => {
    agent = await startExampleAgent("namespace-surface.yaml", { tracingPolicies: [] });
  }, 60_000);
  afterAll(async () => {
    await agent?.stop();
  });

  async function cycle(name: string, yaml: string): Promise<void> {
    await agent.policies.add(yaml, "grpc");
    await agent.policies.delete(name, /^ {2}namespace: (\S+)$/m.exec(yaml)?.[1] ?? "", "grpc");
  }
  const nameOf = (yaml: string) => /name: "([^"]+)"/.exec(yaml)?.[1] ?? "";

  rootIt(
    `each selector's policy added and deleted ${ROUNDS} times leaves the programs, maps and string maps as after the first`,
    async () => {
      // The first load of each: it may create what stays (the syscall object's programs and maps).
      for (const [kind, yaml] of Object.entries(POLICIES)) {
        await agent.policies.add(yaml, "grpc");
        const status = agent.policies.list().find((p) => p.name === nameOf(yaml));
        expect([status?.state, status?.error], kind).toEqual([TracingPolicyState.TP_STATE_ENABLED, ""]);
        if (kind === "matchArgs string" || kind === "matchBinaries") {
          // Loaded, the values are in the string tries (so the emptiness below means something).
          expect(nonEmpty(dumpMaps("nsguard_string_")).length, kind).toBeGreaterThan(0);
        }
        if (kind === "matchBinaries") {
          expect(nonEmpty(dumpMaps("nsguard_follow_"), true).length, kind).toBe(1);
        }
        await agent.policies.delete(nameOf(yaml), /^ {2}namespace: (\S+)$/m.exec(yaml)?.[1] ?? "", "grpc");
      }
      const before = heldObjects();
      const systemBefore = {
        prog: (bpftool("prog", "show") as unknown[]).length,
        map: (bpftool("map", "show") as unknown[]).length,
      };
      expect(nonEmpty(dumpMaps("nsguard_string_"))).toEqual([]);
      expect(nonEmpty(dumpMaps("nsguard_follow_"), true)).toEqual([]);

      const t0 = performance.now();
      for (const yaml of Object.values(POLICIES)) {
        for (let i = 1; i < ROUNDS; i++) await cycle(nameOf(yaml), yaml);
      }
      const elapsed = performance.now() - t0;

      const after = heldObjects();
      const systemAfter = {
        prog: (bpftool("prog", "show") as unknown[]).length,
        map: (bpftool("map", "show") as unknown[]).length,
      };
      console.log(
        `churn: ${Object.keys(POLICIES).length} policies x ${ROUNDS - 1} add+delete in ${elapsed.toFixed(0)} ms; ` +
          `this process holds ${after.prog.length} programs, ${after.map.length} maps, ${after.link.length} links ` +
          `(before: ${before.prog.length}/${before.map.length}/${before.link.length}); ` +
          `node-wide ${systemBefore.prog}→${systemAfter.prog} programs, ${systemBefore.map}→${systemAfter.map} maps (other tests run meanwhile)`,
      );
      // The same objects by id: none re-created, none left behind (the syscall dispatcher's
      // link is made with the first hook and goes with the last).
      expect(after).toEqual(before);
      expect(agent.policies.list()).toEqual([]);
      expect(nonEmpty(dumpMaps("nsguard_string_"))).toEqual([]);
      expect(nonEmpty(dumpMaps("nsguard_follow_"), true)).toEqual([]);
    },
    120_000,
  );
});
