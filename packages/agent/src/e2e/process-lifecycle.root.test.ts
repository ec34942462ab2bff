import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CapabilitiesType,
  createNsguardClient,
  EventType,
  type GetEventsResponse,
  type Process,
} from "@nsguard/sdk";
import { afterAll, beforeAll, describe, expect } from "vitest";
import type { RunningAgent } from "../agent.js";
import { SimulatedContainer, startHostAnchor } from "../sim/simulated-container.js";
import { isRoot, randomContainerId, rootIt, startExampleAgent, waitFor } from "./root-tier.js";

/** Every process_exec and process_exit event through a real gRPC client, until aborted. */
async function collectLifecycle(agent: RunningAgent, signal: AbortSignal): Promise<GetEventsResponse[]> {
  const events: GetEventsResponse[] = [];
  const url = agent.server.addresses.tcp?.url;
  if (!url) throw new Error("agent has no TCP listener");
  const allowList = [{ eventSet: [EventType.PROCESS_EXEC, EventType.PROCESS_EXIT] }];
  const before = agent.hub.subscriberCount;
  (async () => {
    for await (const ev of createNsguardClient(url).getEvents({ allowList }, { signal })) events.push(ev);
  })().catch(() => undefined); // ends when the test aborts
  await waitFor(() => agent.hub.subscriberCount > before, 5000, "the GetEvents stream to register");
  return events;
}

/** The last exec of `pid` (setpriv execs the shell under its own pid: the shell's is the last). */
const execOf = (events: GetEventsResponse[], pid: number) =>
  events.findLast((ev) => ev.event.case === "processExec" && ev.event.value.process?.pid === pid)?.event
    .value as { process: Process; parent?: Process } | undefined;
const exitOf = (events: GetEventsResponse[], pid: number) => {
  const ev = events.find((e) => e.event.case === "processExit" && e.event.value.process?.pid === pid);
  return ev?.event.case === "processExit" ? ev.event.value : undefined;
};

/** The capability set `name` (CapPrm, CapBnd …) of a /proc/<pid>/status, as a CapabilitiesType list. */
function capsOf(status: string, name: string): CapabilitiesType[] {
  const mask = BigInt(`0x${new RegExp(`^${name}:\\s*([0-9a-f]+)`, "m").exec(status)?.[1] ?? "0"}`);
  const out: CapabilitiesType[] = [];
  for (let bit = 0n; mask >> bit !== 0n; bit++)
    if ((mask >> bit) & 1n) out.push(Number(bit) as CapabilitiesType);
  return out;
}

const nsInum = (pid: number | "self", name: string) =>
  Number(/\[(\d+)\]/.exec(readlinkSync(`/proc/${pid}/ns/${name}`))?.[1]);

describe.runIf(isRoot || process.env.CI)("process lifecycle fidelity (root tier: BPF + namespaces)", () => {
  let anchor: ReturnType<typeof startHostAnchor>;
  beforeAll(() => {
    anchor = startHostAnchor();
  });
  afterAll(() => anchor?.stop());

  rootIt(
    "a process killed by a Sigkill policy exits with signal SIGKILL; in_init_tree, ns and cap come from the kernel",
    async () => {
      const agent = await startExampleAgent("deny-namespace-access.yaml", {
        enableProcessNs: true,
        enableProcessCred: true,
      });
      const abort = new AbortController();
      try {
        const events = await collectLifecycle(agent, abort.signal);
        const container = new SimulatedContainer({ id: randomContainerId() });
        // The container's init (nspid 1) starts nsenter (nspid 2), which the policy kills at its
        // first setns. /proc is the host's inside, so field 4 of a child's stat is nsenter's host pid.
        const result = await container
          .run(
            `nsenter -t ${anchor.pid} -n sh -c 'echo never'; echo rc=$?; ` +
              `sh -c 'echo child_pid=$(cut -d" " -f4 /proc/self/stat)'`,
          )
          .finally(() => container.remove());
        expect(result.stdout).toContain("rc=137");
        expect(result.stdout).not.toContain("never");
        const shPid = Number(/child_pid=(\d+)/.exec(result.stdout)?.[1]);
        expect(shPid).toBeGreaterThan(1);

        // A host process outside any init tree, with dropped privileges.
        const hostPid = Number(
          execFileSync(
            "setpriv",
            ["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "sh", "-c", "echo $$"],
            { encoding: "utf8" },
          ).trim(),
        );

        const nsenterExec = () =>
          events.find(
            (ev) =>
              ev.event.case === "processExec" &&
              ev.event.value.process?.binary.endsWith("/nsenter") &&
              ev.event.value.process.docker === container.id.slice(0, 31),
          );
        await waitFor(
          () => {
            const ex = nsenterExec();
            return (
              ex?.event.case === "processExec" &&
              exitOf(events, ex.event.value.process?.pid ?? 0) !== undefined
            );
          },
          5000,
          "nsenter's exec and exit",
        );
        await waitFor(
          () => execOf(events, hostPid) !== undefined && execOf(events, shPid) !== undefined,
          5000,
          "execs",
        );
        const ex = nsenterExec();
        if (ex?.event.case !== "processExec" || !ex.event.value.process) throw new Error("no nsenter exec");
        const nsenter = ex.event.value.process;

        // Tetragon's exit fields: the name of the signal that ended it, and status = wait status >> 8.
        const exit = exitOf(events, nsenter.pid ?? 0);
        expect(exit?.signal).toBe("SIGKILL");
        expect(exit?.status).toBe(0);
        expect(exit?.process?.execId).toBe(nsenter.execId);

        // Started by the container's init: in its init tree, as the flag string says too.
        expect(nsenter.inInitTree).toBe(true);
        expect(nsenter.flags).toBe("execve rootcwd clone inInitTree");
        expect(ex.event.value.parent?.inInitTree).toBe(true);
        // A host process is in no init tree (the host's pid 1 has nspid 0 from the kernel's view).
        const host = execOf(events, hostPid)?.process;
        expect(host?.inInitTree).toBe(false);
        expect(host?.flags).not.toContain("inInitTree");

        // --enable-process-ns: the container's own namespaces; the host process's are ours.
        expect(nsenter.ns?.net?.inum).toBeGreaterThan(0);
        expect(nsenter.ns?.net?.inum).not.toBe(nsInum("self", "net"));
        expect(nsenter.ns?.user?.inum).toBe(nsInum("self", "user"));
        for (const name of ["net", "mnt", "uts", "ipc", "pid", "user", "cgroup"] as const) {
          expect(host?.ns?.[name]?.inum).toBe(nsInum("self", name));
          // is_host: the kernel's initial namespaces (this test runs in them; /proc/1's are unreadable).
          expect(host?.ns?.[name]?.isHost).toBe(true);
        }
        expect(nsenter.ns?.net?.isHost).toBe(false);
        expect(nsenter.ns?.user?.isHost).toBe(true); // the container shares the host's user namespace

        // --enable-process-cred: root in the container keeps the bounding set (exec as root
        // grants it); the host process dropped to nobody with nothing.
        const self = readFileSync("/proc/self/status", "utf8");
        expect(nsenter.cap?.permitted).toEqual(capsOf(self, "CapBnd"));
        expect(nsenter.cap?.effective).toEqual(capsOf(self, "CapBnd"));
        expect(nsenter.processCredentials).toMatchObject({ uid: 0, euid: 0, suid: 0, fsuid: 0, gid: 0 });
        expect(host?.processCredentials).toMatchObject({
          uid: 65534,
          euid: 65534,
          suid: 65534,
          fsuid: 65534,
          gid: 65534,
          egid: 65534,
        });
        expect(host?.cap?.permitted ?? []).toEqual([]);
        expect(host?.cap?.effective ?? []).toEqual([]);
        expect(capsOf(self, "CapBnd")).toContain(CapabilitiesType.CAP_SYS_ADMIN);
      } finally {
        abort.abort();
        await agent.stop();
      }
    },
  );
  rootIt(
    "a container init that predates the agent passes in_init_tree from /proc to the kernel's table",
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "nsguard-initree-"));
      const container = new SimulatedContainer({ id: randomContainerId() });
      // The init starts before the agent and waits; its child is forked once the agent runs.
      const done = container
        .run(
          `echo $$ > ${dir}/ready; while [ ! -e ${dir}/go ]; do sleep 0.05; done; ` +
            `sh -c 'echo child_pid=$(cut -d" " -f4 /proc/self/stat)'`,
        )
        .finally(() => container.remove());
      let agent: RunningAgent | undefined;
      const abort = new AbortController();
      try {
        await waitFor(() => existsSync(join(dir, "ready")), 5000, "the container's init");
        agent = await startExampleAgent("namespace-access.yaml");
        const events = await collectLifecycle(agent, abort.signal);
        writeFileSync(join(dir, "go"), "");
        const result = await done;
        const childPid = Number(/child_pid=(\d+)/.exec(result.stdout)?.[1]);
        expect(childPid).toBeGreaterThan(1);
        await waitFor(() => execOf(events, childPid) !== undefined, 5000, "the child's exec");
        const exec = execOf(events, childPid);
        expect(exec?.process.inInitTree).toBe(true);
        expect(exec?.process.flags).toBe("execve rootcwd clone inInitTree");
        // Its parent is the init, known only from the start-up scan of /proc.
        expect(exec?.parent?.flags).toBe("procFS auid rootcwd inInitTree");
        expect(exec?.parent?.inInitTree).toBe(true);
      } finally {
        abort.abort();
        writeFileSync(join(dir, "go"), "");
        await done.catch(() => undefined);
        await agent?.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
