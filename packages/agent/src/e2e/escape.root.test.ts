import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { type GetEventsResponse, KprobeAction, toJsonLine } from "@nsguard/sdk";
import { afterAll, beforeAll, describe, expect } from "vitest";
import type { RunningAgent } from "../agent.js";
import { SimulatedContainer, startHostAnchor } from "../sim/simulated-container.js";
import {
  collectKprobes,
  EXAMPLES,
  isRoot,
  kprobeOf,
  loadedNsguardPrograms,
  randomContainerId,
  rootIt,
  startExampleAgent,
  waitFor,
} from "./root-tier.js";

const NODE = "e2e-node";
const SEED_LABELS = { "app.kubernetes.io/name": "xwing", class: "xwing", org: "alliance" };
const NSTYPE = { mnt: 0x20000, uts: 0x4000000, ipc: 0x8000000, net: 0x40000000 };

function keyPaths(value: unknown, prefix = ""): string[] {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return [prefix];
  return Object.entries(value).flatMap(([k, v]) => keyPaths(v, prefix ? `${prefix}.${k}` : k));
}

const ms = (ts: Timestamp | undefined) => (ts ? timestampMs(ts) : Number.NaN);

describe.runIf(isRoot || process.env.CI)(
  "container escape through setns (root tier: BPF + namespaces)",
  () => {
    let dir: string;
    let anchor: ReturnType<typeof startHostAnchor>;
    let programsBefore: Set<number>;
    const containerId = randomContainerId();

    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), "nsguard-e2e-"));
      anchor = startHostAnchor();
      programsBefore = isRoot ? loadedNsguardPrograms() : new Set();
      writeFileSync(
        join(dir, "pod-info.json"),
        JSON.stringify({
          [containerId]: {
            namespace: "default",
            name: "xwing",
            containerId: `containerd://${containerId}`,
            containerName: "spaceship",
            image: { id: "localhost/bb@sha256:0000", name: "localhost/bb:latest" },
            containerStartTime: "2026-01-28T08:51:07Z",
            labels: SEED_LABELS,
            workload: "xwing",
            workloadKind: "Pod",
          },
        }),
      );
    });
    afterAll(() => {
      anchor?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    async function withAgent(policy: string, fn: (agent: RunningAgent) => Promise<void>): Promise<void> {
      const agent = await startExampleAgent(policy, {
        serverSocket: join(dir, "nsguard.sock"),
        nodeName: NODE,
        podInfoFile: join(dir, "pod-info.json"),
        metricsServer: "127.0.0.1:0",
      });
      const ours = [...loadedNsguardPrograms()].filter((id) => !programsBefore.has(id));
      try {
        expect(ours.length).toBeGreaterThanOrEqual(4); // 3 lifecycle programs + the syscall hook
        await fn(agent);
      } finally {
        await agent.stop();
      }
      // The kernel frees tp_btf programs after an RCU grace period, not at close(): poll.
      await waitFor(
        () => {
          const left = loadedNsguardPrograms();
          return ours.every((id) => !left.has(id));
        },
        5000,
        "our BPF programs to be unloaded",
      );
    }

    rootIt(
      "reports every setns of nsenter in a container with the seed's fields, at a real gRPC client",
      async () => {
        await withAgent("namespace-access.yaml", async (agent) => {
          const abort = new AbortController();
          const events = await collectKprobes(agent, { policyNames: ["namespace-access"] }, abort.signal);
          const container = new SimulatedContainer({ id: containerId, hostname: "xwing" });
          const t0 = Date.now();
          // /proc is the host's inside the container, so /proc/self/stat field 4 (ppid) of a child
          // names its parent's *host* pid: that is how the script reports bash's and nsenter's pids.
          const result = await container
            .run(
              `bash -c 'echo bash_pid=$(cut -d" " -f4 /proc/self/stat) bash_nspid=$$; ` +
                `nsenter -t ${anchor.pid} -m -u -n -i sh -c "echo nsenter_pid=\\$(cut -d\\" \\" -f4 /proc/self/stat)"; echo rc=$?'`,
            )
            .finally(() => container.remove());
          const t1 = Date.now();
          expect(result.stdout).toContain("rc=0");
          const bashPid = Number(/bash_pid=(\d+)/.exec(result.stdout)?.[1]);
          const bashNsPid = Number(/bash_nspid=(\d+)/.exec(result.stdout)?.[1]);
          const nsenterPid = Number(/nsenter_pid=(\d+)/.exec(result.stdout)?.[1]);
          expect(bashPid).toBeGreaterThan(1);
          expect(nsenterPid).toBeGreaterThan(1);

          const mine = () => events.filter((ev) => kprobeOf(ev).process?.pid === nsenterPid);
          await waitFor(() => mine().length >= 4, 5000, "four setns events from nsenter");
          abort.abort();

          const kprobes = mine().map(kprobeOf);
          expect(kprobes.map((k) => k.args[1]?.arg.value).sort()).toEqual(
            [NSTYPE.mnt, NSTYPE.uts, NSTYPE.ipc, NSTYPE.net].sort(),
          );
          const nsenterBinary = realpathSync(
            execFileSync("sh", ["-c", "command -v nsenter"], { encoding: "utf8" }).trim(),
          );
          const bashBinary = realpathSync(
            execFileSync("sh", ["-c", "command -v bash"], { encoding: "utf8" }).trim(),
          );
          const auid = Number(readFileSync("/proc/self/loginuid", "utf8"));
          for (const [i, k] of kprobes.entries()) {
            const ev = mine()[i] as GetEventsResponse;
            const p = k.process;
            const parent = k.parent;
            if (!p || !parent) throw new Error("event without process or parent");
            expect(Buffer.from(p.execId, "base64").toString()).toMatch(
              new RegExp(`^${NODE}:[1-9]\\d*:${nsenterPid}$`),
            );
            expect(p.pid).toBe(nsenterPid);
            expect(p.tid).toBe(nsenterPid);
            expect(p.uid).toBe(0);
            expect(p.auid).toBe(auid);
            expect(p.cwd).toBe("/");
            expect(p.binary).toBe(nsenterBinary);
            expect(p.arguments).toBe(
              `-t ${anchor.pid} -m -u -n -i sh -c "echo nsenter_pid=$(cut -d\\" \\" -f4 /proc/self/stat)"`,
            );
            // Unlike the seed's kubectl exec, the simulated container's bash is started by its
            // init: bash and nsenter are in the init tree (Tetragon prints the bit in flags too).
            expect(p.flags).toBe("execve rootcwd clone inInitTree");
            expect(p.inInitTree).toBe(true);
            expect(ms(p.startTime)).toBeGreaterThanOrEqual(t0 - 5);
            expect(ms(p.startTime)).toBeLessThanOrEqual(t1 + 5);
            expect(p.docker).toBe(containerId.slice(0, 31));
            expect(p.parentExecId).toBe(parent.execId);
            expect(p.refcnt).toBe(1);
            expect(p.pod?.namespace).toBe("default");
            expect(p.pod?.name).toBe("xwing");
            expect(p.pod?.container?.id).toBe(`containerd://${containerId}`);
            expect(p.pod?.container?.name).toBe("spaceship");
            expect(p.pod?.container?.image?.name).toBe("localhost/bb:latest");
            expect(p.pod?.container?.pid).toBeGreaterThan(bashNsPid);
            expect(p.pod?.podLabels).toEqual(SEED_LABELS);
            expect(p.pod?.workload).toBe("xwing");

            expect(parent.pid).toBe(bashPid);
            expect(parent.tid).toBe(bashPid);
            expect(parent.binary).toBe(bashBinary);
            expect(parent.cwd).toBe("/");
            expect(parent.flags).toBe("execve rootcwd clone inInitTree");
            expect(parent.inInitTree).toBe(true);
            expect(parent.refcnt).toBe(0); // the seed's parent carries no refcnt
            expect(parent.pod?.container?.pid).toBe(bashNsPid);
            expect(parent.docker).toBe(containerId.slice(0, 31));
            expect(Buffer.from(parent.execId, "base64").toString()).toMatch(
              new RegExp(`^${NODE}:[1-9]\\d*:${bashPid}$`),
            );

            expect(k.functionName).toBe("__x64_sys_setns");
            expect(k.args[0]?.arg.case).toBe("intArg");
            expect(k.args[0]?.arg.value).toBeGreaterThanOrEqual(3); // the namespace file's fd
            expect(k.args[1]?.arg.case).toBe("intArg");
            expect(k.action).toBe(KprobeAction.POST);
            expect(k.returnAction).toBe(KprobeAction.POST);
            expect(k.policyName).toBe("namespace-access");
            expect(ev.nodeName).toBe(NODE);
            expect(ms(ev.time)).toBeGreaterThanOrEqual(t0 - 5);
            expect(ms(ev.time)).toBeLessThanOrEqual(t1 + 5);
            expect(ms(ev.time)).toBeGreaterThanOrEqual(ms(p.startTime));
          }

          // The metrics endpoint counts what happened.
          const metrics = await (await fetch(agent.metricsUrl ?? "")).text();
          // Series per type and (--metrics-label-filter) pod labels: sum the kprobe ones.
          const kprobeCount = [
            ...metrics.matchAll(/^nsguard_events_total\{[^}]*type="PROCESS_KPROBE"[^}]*\} (\d+)$/gm),
          ].reduce((sum, m) => sum + Number(m[1]), 0);
          expect(kprobeCount).toBeGreaterThanOrEqual(4);
          expect(metrics).toMatch(/nsguard_observer_ringbuf_events_lost_total \d+/);

          // Every key of the seed's JSON appears in our JSON for a real event.
          const seed = JSON.parse(readFileSync(join(EXAMPLES, "seed-event.json"), "utf8"));
          const ours = new Set(keyPaths(JSON.parse(toJsonLine(mine()[0] as GetEventsResponse))));
          expect(keyPaths(seed).filter((k) => !ours.has(k))).toEqual([]);
        });
      },
    );

    rootIt(
      "Sigkill (the seed's deny policy) kills a container process at its first setns and spares host processes",
      async () => {
        await withAgent("deny-namespace-access.yaml", async (agent) => {
          const abort = new AbortController();
          const events = await collectKprobes(
            agent,
            { policyNames: ["deny-namespace-access"] },
            abort.signal,
          );
          const container = new SimulatedContainer({ id: containerId, hostname: "xwing" });
          const inside = await container
            .run(`bash -c 'nsenter -t ${anchor.pid} -u -n sh -c "echo ENTERED"; echo rc=$?'`)
            .finally(() => container.remove());
          expect(inside.stdout).not.toContain("ENTERED");
          expect(inside.stdout).toContain("rc=137"); // 128 + SIGKILL
          // The same escape from the host (initial pid namespace) is not the policy's business.
          const onHost = execFileSync(
            "nsenter",
            ["-t", String(anchor.pid), "-u", "sh", "-c", "echo ENTERED"],
            {
              encoding: "utf8",
            },
          );
          expect(onHost).toContain("ENTERED");

          await waitFor(() => events.length >= 1, 5000, "the Sigkill event");
          await new Promise((r) => setTimeout(r, 200));
          abort.abort();
          // nsenter died at its first setns: exactly one event, with the Sigkill action.
          expect(events).toHaveLength(1);
          const k = kprobeOf(events[0] as GetEventsResponse);
          expect(k.action).toBe(KprobeAction.SIGKILL);
          expect(k.process?.binary).toMatch(/nsenter$/);
          expect(k.process?.docker).toBe(containerId.slice(0, 31));
          const counters = agent.sensor.counters().kernel;
          expect(counters.sigkill).toBeGreaterThanOrEqual(1n);
        });
      },
    );
  },
);
