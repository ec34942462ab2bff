import { type ChildProcess, execFile, spawn } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createNsguardClient, type GetEventsResponse, KprobeAction, type ProcessKprobe } from "@nsguard/sdk";
import { afterAll, beforeAll, describe, expect } from "vitest";
import { type RunningAgent, startAgent } from "../agent.js";
import { SimulatedContainer, startHostAnchor } from "../sim/simulated-container.js";
import {
  collectKprobes,
  EXAMPLES,
  isRoot,
  kprobeOf,
  randomContainerId,
  rootIt,
  waitFor,
} from "./root-tier.js";

// Issue 8's selectors, evaluated in the kernel, against real processes in new namespaces
// ("containers": unshare(1) and SimulatedContainer, which share the host's /proc so a script
// inside can name a host-side anchor process). One agent for the file; each test adds its
// policies over the unix socket (as `nsguard tracingpolicy add` does) and deletes them after.

const CLONE_NEWNS = 0x20000;
const CLONE_NEWUTS = 0x4000000;
const CLONE_NEWNET = 0x40000000;
const CLONE_NEWUSER = 0x10000000;
const CAP_SYS_ADMIN = 21;
const SYS_SETNS = process.arch === "arm64" ? 268 : 308;
const NSENTER = "/usr/bin/nsenter";
const PYTHON = "/usr/bin/python3"; // Debian's, not a pyenv shim: its exec'd path is this one

/** Exit status of a command that may fail or be killed (execFile rejects on both). */
interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
}
function runAny(cmd: string, args: string[]): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(cmd, args, (error, stdout) => {
      const e = error as (Error & { code?: number; signal?: NodeJS.Signals }) | null;
      resolve({ code: e ? (e.code ?? null) : 0, signal: e?.signal ?? null, stdout });
    });
  });
}

/** `name=<host pid>` from a shell: /proc is the host's, so /proc/self/stat shows the host pid. */
const SH_PID = (name: string) => `read -r p _ < /proc/self/stat; echo "${name}=$p"`;

/** A Python program that prints its host pid, then does setns on the namespace files given. */
function pythonSetns(name: string, calls: [string, number][], before = ""): string {
  return `
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
print("${name}=" + open("/proc/self/stat").read().split()[0], flush=True)
${before}
for path, nstype in ${JSON.stringify(calls)}:
    fd = os.open(path, os.O_RDONLY)
    if libc.setns(fd, nstype) != 0:
        print("setns failed", ctypes.get_errno(), flush=True)
`;
}

function pidOf(stdout: string, name: string): number {
  const pid = Number(new RegExp(`${name}=(\\d+)`).exec(stdout)?.[1]);
  if (!(pid > 0)) throw new Error(`no ${name}= in output: ${stdout}`);
  return pid;
}

/** A TracingPolicy hooking one syscall, as JSON (a YAML subset, so it parses as a policy file). */
function policy(name: string, call: string, args: object[], selectors: object[]): string {
  return JSON.stringify({
    apiVersion: "cilium.io/v1alpha1",
    kind: "TracingPolicy",
    metadata: { name },
    spec: { kprobes: [{ call, syscall: true, args, selectors }] },
  });
}
const SETNS_ARGS = [
  { index: 0, type: "int" },
  { index: 1, type: "int" },
];
const setnsPolicy = (name: string, ...selectors: object[]) =>
  policy(name, "sys_setns", SETNS_ARGS, selectors);

describe.runIf(isRoot || process.env.CI)("issue 8 selectors in the kernel (root tier)", () => {
  let dir: string;
  let agent: RunningAgent;
  let anchor: ReturnType<typeof startHostAnchor>;
  let client: ReturnType<typeof createNsguardClient>;
  /** Started before the agent: the kernel learns of it only through the procfs seed. */
  let preexisting: ChildProcess;
  let preexistingOut = "";
  /** A copy of nsenter only this file runs: what enforcing policies here are narrowed to. */
  let privateNsenter: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "nsguard-sel-"));
    privateNsenter = join(dir, "nsenter");
    copyFileSync(NSENTER, privateNsenter);
    chmodSync(privateNsenter, 0o755);
    anchor = startHostAnchor();
    // Waits for a line on stdin, then: a setns into the host's net (its own), an unshare of its
    // mount namespace, the same setns, a drop of CAP_SYS_ADMIN from its effective set (capset),
    // and the same setns once more (refused now, but called).
    const script = pythonSetns("pre_pid", []).concat(`
import sys
class CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]
class CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]
sys.stdin.readline()
fd = os.open("/proc/${anchor.pid}/ns/net", os.O_RDONLY)
libc.setns(fd, ${CLONE_NEWNET})
libc.unshare(${CLONE_NEWNS})
libc.setns(fd, ${CLONE_NEWNET})
header, data = CapHeader(0x20080522, 0), (CapData * 2)()
libc.capget(ctypes.byref(header), data)
data[0].effective &= ~(1 << ${CAP_SYS_ADMIN})
if libc.capset(ctypes.byref(header), data) != 0:
    print("capset failed", flush=True)
libc.setns(fd, ${CLONE_NEWNET})
print("done", flush=True)
sys.stdin.readline()
`);
    preexisting = spawn(PYTHON, ["-c", script], { stdio: ["pipe", "pipe", "inherit"] });
    preexisting.stdout?.on("data", (d: Buffer) => {
      preexistingOut += d.toString();
    });
    await waitFor(() => preexistingOut.includes("pre_pid="), 10_000, "the pre-existing process");
    agent = await startAgent({
      tracingPolicies: [],
      serverAddress: "127.0.0.1:0",
      serverSocket: join(dir, "nsguard.sock"),
      nodeName: "selectors",
      eventQueueSize: 4000,
      logLevel: "silent",
    });
    client = createNsguardClient(`unix://${join(dir, "nsguard.sock")}`);
  }, 60_000);

  afterAll(async () => {
    preexisting?.kill("SIGKILL");
    await agent?.stop();
    anchor?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Adds the policies, streams their events while `fn` runs, deletes them. */
  async function withPolicies(
    yamls: string[],
    fn: (events: GetEventsResponse[]) => Promise<void>,
  ): Promise<void> {
    const names = yamls.map((y) => /"?name"?:\s*"?([\w-]+)/.exec(y)?.[1] ?? "");
    const abort = new AbortController();
    const added: string[] = [];
    try {
      for (const [i, yaml] of yamls.entries()) {
        await client.addTracingPolicy({ yaml });
        added.push(names[i] as string);
      }
      const events = await collectKprobes(agent, { policyNames: names }, abort.signal);
      await fn(events);
    } finally {
      abort.abort();
      for (const name of added) await client.deleteTracingPolicy({ name });
    }
  }

  const kprobesOf = (events: GetEventsResponse[], pid: number, policyName?: string): ProcessKprobe[] =>
    events
      .map(kprobeOf)
      .filter((k) => k.process?.pid === pid && (policyName === undefined || k.policyName === policyName));
  /** waitFor, and on a timeout the events seen and the kernel's counters, to tell a miss from a drop. */
  async function waitEvents(
    events: GetEventsResponse[],
    predicate: () => boolean,
    what: string,
  ): Promise<void> {
    try {
      await waitFor(predicate, 10_000, what);
    } catch (error) {
      const seen = events.map(kprobeOf).map((k) => `${k.policyName} ${k.process?.pid} ${k.process?.binary}`);
      const counters = JSON.stringify(agent.sensor.counters(), (_, v) =>
        typeof v === "bigint" ? `${v}` : v,
      );
      throw new Error(`${(error as Error).message}; seen: [${seen.join(", ")}]; counters: ${counters}`);
    }
  }

  /** Late events of calls that should not have matched get this long to show up. */
  const settle = () => new Promise((r) => setTimeout(r, 400));

  async function inContainer(script: string): Promise<string> {
    const container = new SimulatedContainer({ id: randomContainerId() });
    const result = await container.run(script).finally(() => container.remove());
    return result.stdout;
  }

  /** A long-lived "container" (new mnt, uts, ipc, net namespaces) for host processes to enter. */
  async function withTarget(fn: (pid: number) => Promise<void>): Promise<void> {
    const target = spawn("unshare", ["-m", "-u", "-i", "-n", "--", "sleep", "60"], { stdio: "ignore" });
    const pid = target.pid as number;
    try {
      await waitFor(
        () => {
          try {
            return readlinkSync(`/proc/${pid}/ns/mnt`) !== readlinkSync("/proc/self/ns/mnt");
          } catch {
            return false;
          }
        },
        5000,
        "the target's namespaces",
      );
      await fn(pid);
    } finally {
      target.kill("SIGKILL");
    }
  }

  rootIt(
    "matchArgs Equal CLONE_NEWNET on setns's nstype reports only the net setns of nsenter -m -u -n -i",
    async () => {
      const yaml = setnsPolicy("sel-args-newnet", {
        matchArgs: [{ index: 1, operator: "Equal", values: [String(CLONE_NEWNET)] }],
      });
      await withPolicies([yaml], async (events) => {
        const out = await inContainer(
          `${SH_PID("nsenter_pid")}; exec nsenter -m -u -n -i -t ${anchor.pid} true`,
        );
        const pid = pidOf(out, "nsenter_pid");
        await waitEvents(events, () => kprobesOf(events, pid).length >= 1, "the net setns");
        await settle();
        const kprobes = kprobesOf(events, pid);
        expect(kprobes).toHaveLength(1);
        expect(kprobes[0]?.args[1]?.arg).toEqual({ case: "intArg", value: CLONE_NEWNET });
        expect(kprobes[0]?.process?.binary).toBe(NSENTER);
      });
    },
  );

  rootIt(
    "matchBinaries In/Prefix/Postfix/NotIn tell nsenter from a python setns in the same container",
    async () => {
      const bin = (name: string, operator: string, values: string[]) =>
        setnsPolicy(name, { matchBinaries: [{ operator, values }] });
      const yamls = [
        bin("sel-bin-in", "In", [NSENTER]),
        bin("sel-bin-prefix", "Prefix", ["/usr/bin/nsen"]),
        bin("sel-bin-postfix", "Postfix", ["/nsenter"]),
        bin("sel-bin-notin", "NotIn", [NSENTER]),
      ];
      await withPolicies(yamls, async (events) => {
        const py = pythonSetns("python_pid", [[`/proc/${anchor.pid}/ns/net`, CLONE_NEWNET]]);
        const out = await inContainer(
          `${PYTHON} -c '${py}'; sh -c '${SH_PID("nsenter_pid")}; exec nsenter -t ${anchor.pid} -n true'`,
        );
        const pyPid = pidOf(out, "python_pid");
        const nsPid = pidOf(out, "nsenter_pid");
        for (const name of ["sel-bin-in", "sel-bin-prefix", "sel-bin-postfix"]) {
          await waitEvents(
            events,
            () => kprobesOf(events, nsPid, name).length >= 1,
            `nsenter's setns in ${name}`,
          );
        }
        await waitEvents(
          events,
          () => kprobesOf(events, pyPid, "sel-bin-notin").length >= 1,
          "python in NotIn",
        );
        await settle();
        for (const name of ["sel-bin-in", "sel-bin-prefix", "sel-bin-postfix"]) {
          expect(kprobesOf(events, nsPid, name), name).toHaveLength(1);
          expect(kprobesOf(events, pyPid, name), name).toHaveLength(0);
        }
        expect(kprobesOf(events, pyPid, "sel-bin-notin")).toHaveLength(1);
        expect(kprobesOf(events, nsPid, "sel-bin-notin")).toHaveLength(0);
        expect(kprobesOf(events, pyPid, "sel-bin-notin")[0]?.process?.binary).toBe(PYTHON);
      });
    },
  );

  rootIt(
    "matchBinaries followChildren: a child of a matching binary matches, the same call elsewhere not",
    async () => {
      // A private copy of dash, so no other process on the machine runs this binary.
      const parent = join(dir, "follow-sh");
      copyFileSync("/bin/dash", parent);
      const yamls = [
        setnsPolicy("sel-bin-follow", {
          matchBinaries: [{ operator: "In", values: [parent], followChildren: true }],
        }),
        setnsPolicy("sel-bin-follow-notin", {
          matchBinaries: [{ operator: "NotIn", values: [parent], followChildren: true }],
        }),
      ];
      await withPolicies(yamls, async (events) => {
        const nsenter = `${SH_PID("nsenter_pid")}; exec nsenter -t ${anchor.pid} -n true`;
        const plain = await runAny("sh", ["-c", nsenter]);
        const plainPid = pidOf(plain.stdout, "nsenter_pid");
        // follow-sh forks sh, which execs nsenter: a grandchild of the matching binary.
        const followed = await runAny(parent, ["-c", `sh -c '${nsenter}'`]);
        const childPid = pidOf(followed.stdout, "nsenter_pid");
        const IN = "sel-bin-follow";
        const NOT_IN = "sel-bin-follow-notin";
        await waitEvents(
          events,
          () => kprobesOf(events, childPid, IN).length >= 1,
          "the followed child's setns",
        );
        await waitEvents(
          events,
          () => kprobesOf(events, plainPid, NOT_IN).length >= 1,
          "the plain setns in NotIn",
        );
        await settle();
        expect(kprobesOf(events, childPid, IN)).toHaveLength(1);
        expect(kprobesOf(events, childPid, IN)[0]?.process?.binary).toBe(NSENTER);
        expect(kprobesOf(events, plainPid, IN)).toHaveLength(0);
        // NotIn with followChildren: neither the binary nor what descends from it.
        expect(kprobesOf(events, childPid, NOT_IN)).toHaveLength(0);
        expect(kprobesOf(events, plainPid, NOT_IN)).toHaveLength(1);
      });
    },
  );

  rootIt(
    "followChildren: a process followed by a deleted policy is not followed by the next one",
    async () => {
      const [a, b] = ["follow-a", "follow-b"].map((name) => {
        const path = join(dir, name);
        copyFileSync("/bin/dash", path);
        return path as string;
      }) as [string, string];
      const follow = (name: string, binary: string) =>
        setnsPolicy(name, { matchBinaries: [{ operator: "In", values: [binary], followChildren: true }] });
      const nsenter = `${SH_PID("nsenter_pid")}; exec nsenter -t ${anchor.pid} -n true`;
      // A descendant of follow-a, started while a policy follows follow-a, that calls setns later.
      let waiting: ChildProcess | undefined;
      let waitingOut = "";
      await withPolicies([follow("sel-follow-a", a)], async () => {
        waiting = spawn(a, ["-c", `read line; sh -c '${nsenter}'`], { stdio: ["pipe", "pipe", "inherit"] });
        waiting.stdout?.on("data", (d: Buffer) => {
          waitingOut += d.toString();
        });
        await new Promise((r) => setTimeout(r, 200)); // follow-a's exec is seen while sel-follow-a is loaded
      });
      try {
        await withPolicies([follow("sel-follow-b", b)], async (events) => {
          waiting?.stdin?.write("go\n");
          await waitFor(() => waitingOut.includes("nsenter_pid="), 5000, "the waiting process's nsenter");
          const stalePid = pidOf(waitingOut, "nsenter_pid");
          const followed = await runAny(b, ["-c", `sh -c '${nsenter}'`]);
          const childPid = pidOf(followed.stdout, "nsenter_pid");
          await waitEvents(events, () => kprobesOf(events, childPid).length >= 1, "follow-b's child's setns");
          await settle();
          expect(kprobesOf(events, stalePid)).toHaveLength(0);
        });
      } finally {
        waiting?.kill("SIGKILL");
      }
    },
  );

  rootIt(
    "matchNamespaces Mnt NotIn host_ns + Sigkill kills the container's nsenter before it runs code; a host nsenter into the container survives",
    async () => {
      // ANDed with this file's own copy of nsenter, so the kill cannot reach another test's
      // container on this shared machine while the policy is loaded.
      const yaml = setnsPolicy("sel-ns-kill", {
        matchNamespaces: [{ namespace: "Mnt", operator: "NotIn", values: ["host_ns"] }],
        matchBinaries: [{ operator: "In", values: [privateNsenter] }],
        matchActions: [{ action: "Sigkill" }],
      });
      const killedMarker = join(dir, "killed-marker");
      const hostMarker = join(dir, "host-marker");
      await withPolicies([yaml], async (events) => {
        const out = await inContainer(
          `sh -c '${SH_PID("nsenter_pid")}; exec ${privateNsenter} -t ${anchor.pid} -n -- touch ${killedMarker}'; echo rc=$?`,
        );
        const pid = pidOf(out, "nsenter_pid");
        expect(out).toContain("rc=137"); // 128 + SIGKILL
        await waitEvents(events, () => kprobesOf(events, pid).length >= 1, "the kill's event");
        const [k] = kprobesOf(events, pid);
        expect(k?.action).toBe(KprobeAction.SIGKILL);
        expect(existsSync(killedMarker)).toBe(false);

        await withTarget(async (target) => {
          const entered = await runAny(privateNsenter, [
            "-t",
            `${target}`,
            "-m",
            "-u",
            "-i",
            "-n",
            "--",
            "touch",
            hostMarker,
          ]);
          expect(entered).toMatchObject({ code: 0, signal: null });
          expect(existsSync(hostMarker)).toBe(true);
        });
      });
    },
  );

  rootIt(
    "examples/deny-host-namespace-entry.yaml kills container → host and spares host → container",
    async () => {
      const yaml = readFileSync(join(EXAMPLES, "deny-host-namespace-entry.yaml"), "utf8");
      await withPolicies([yaml], async (events) => {
        const marker = join(dir, "escape-marker");
        const out = await inContainer(
          `sh -c '${SH_PID("nsenter_pid")}; exec nsenter -t ${anchor.pid} -m -u -n -i -- touch ${marker}'; echo rc=$?`,
        );
        const pid = pidOf(out, "nsenter_pid");
        expect(out).toContain("rc=137");
        expect(existsSync(marker)).toBe(false);
        await waitEvents(events, () => kprobesOf(events, pid).length >= 1, "the escape's kill event");
        const [kill] = kprobesOf(events, pid);
        expect(kill?.action).toBe(KprobeAction.SIGKILL);
        expect(kill?.namespaceChanges?.escape).toBe(true); // the verdict the selector acted on

        // Into the host's pid namespace alone (the container has its own): killed too.
        const pidOut = await inContainer(
          `sh -c '${SH_PID("nsenter_pid")}; exec nsenter -t ${anchor.pid} -p -- touch ${marker}'; echo rc=$?`,
        );
        expect(pidOut).toContain("rc=137");
        expect(existsSync(marker)).toBe(false);

        // Through a pidfd (setns(pidfd, CLONE_NEWNET | CLONE_NEWUTS)): the same verdict, resolved
        // from the target task's namespaces before the selectors run.
        const pidfd = `
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
print("python_pid=" + open("/proc/self/stat").read().split()[0], flush=True)
libc.setns(os.pidfd_open(${anchor.pid}), ${CLONE_NEWNET | CLONE_NEWUTS})
print("survived", flush=True)
`;
        // In the host's pid namespace (a --pid=host container), where the anchor's pid means it.
        const py = await runAny("unshare", ["-n", "-u", "-m", PYTHON, "-c", pidfd]);
        expect(py.signal).toBe("SIGKILL");
        expect(py.stdout).not.toContain("survived");
        const pyPid = pidOf(py.stdout, "python_pid");
        await waitEvents(events, () => kprobesOf(events, pyPid).length >= 1, "the pidfd escape's kill event");

        await withTarget(async (target) => {
          const entered = await runAny("sh", [
            "-c",
            `${SH_PID("nsenter_pid")}; exec nsenter -t ${target} -m -u -i -n true`,
          ]);
          expect(entered).toMatchObject({ code: 0, signal: null });
          // A process in the container entering what it already is in is no host entry either.
          const inside = await runAny("nsenter", [
            "-t",
            `${target}`,
            "-m",
            "-u",
            "-i",
            "-n",
            "--",
            "nsenter",
            "-t",
            `${target}`,
            "-n",
            "true",
          ]);
          expect(inside).toMatchObject({ code: 0, signal: null });
          await settle();
          expect(kprobesOf(events, pidOf(entered.stdout, "nsenter_pid"))).toHaveLength(0);
        });
      });
    },
  );

  rootIt(
    "a process started before the agent is judged by matchBinaries, matchNamespaceChanges and matchCapabilityChanges (procfs seed)",
    async () => {
      const pid = pidOf(preexistingOut, "pre_pid");
      // What the seed reads: /proc/PID/exe, the resolved path (python3 → python3.11).
      const exe = readlinkSync(`/proc/${pid}/exe`);
      const yamls = [
        setnsPolicy("sel-seed-binary", { matchBinaries: [{ operator: "In", values: [exe] }] }),
        setnsPolicy("sel-seed-nschange", { matchNamespaceChanges: [{ operator: "In", values: ["Mnt"] }] }),
        setnsPolicy("sel-seed-capchange", {
          matchCapabilityChanges: [{ type: "Effective", operator: "In", values: ["CAP_SYS_ADMIN"] }],
        }),
      ];
      await withPolicies(yamls, async (events) => {
        preexisting.stdin?.write("go\n");
        await waitFor(() => preexistingOut.includes("done"), 5000, "the pre-existing process's calls");
        expect(preexistingOut).not.toContain("capset failed");
        await waitEvents(
          events,
          () => kprobesOf(events, pid, "sel-seed-binary").length >= 3,
          "the setns by binary",
        );
        await waitEvents(
          events,
          () => kprobesOf(events, pid, "sel-seed-capchange").length >= 1,
          "the cap change",
        );
        await settle();
        expect(kprobesOf(events, pid, "sel-seed-binary")).toHaveLength(3);
        // The setns calls after the unshare: the mount namespace differs from the seeded one.
        expect(kprobesOf(events, pid, "sel-seed-nschange")).toHaveLength(2);
        // Only the last: CAP_SYS_ADMIN was in the seeded effective set and is gone now.
        expect(kprobesOf(events, pid, "sel-seed-capchange")).toHaveLength(1);
      });
    },
  );

  rootIt(
    "matchCapabilities Effective In CAP_SYS_ADMIN: a process that dropped it does not match",
    async () => {
      const yaml = setnsPolicy("sel-caps", {
        matchCapabilities: [{ type: "Effective", operator: "In", values: ["CAP_SYS_ADMIN"] }],
      });
      await withPolicies([yaml], async (events) => {
        const nsenter = `${SH_PID("nsenter_pid")}; exec nsenter -t ${anchor.pid} -n true`;
        // Without CAP_SYS_ADMIN, setns fails (EPERM) — but it is called, and that is what is hooked.
        const dropped = await runAny("setpriv", [
          "--inh-caps=-all",
          "--bounding-set=-sys_admin",
          "sh",
          "-c",
          nsenter,
        ]);
        const droppedPid = pidOf(dropped.stdout, "nsenter_pid");
        const full = await runAny("sh", ["-c", nsenter]);
        const fullPid = pidOf(full.stdout, "nsenter_pid");
        await waitEvents(events, () => kprobesOf(events, fullPid).length >= 1, "the capable nsenter's setns");
        await settle();
        expect(dropped.code).not.toBe(0); // nsenter could not setns: the capability really was gone
        expect(kprobesOf(events, fullPid)).toHaveLength(1);
        expect(kprobesOf(events, droppedPid)).toHaveLength(0);
      });
    },
  );

  rootIt(
    "matchNamespaceChanges In Mnt: a setns after unsharing the mount namespace matches; without, not",
    async () => {
      const yaml = setnsPolicy("sel-nschange", {
        matchNamespaceChanges: [{ operator: "In", values: ["Mnt"] }],
      });
      await withPolicies([yaml], async (events) => {
        const net: [string, number][] = [[`/proc/${anchor.pid}/ns/net`, CLONE_NEWNET]];
        const plain = await runAny(PYTHON, ["-c", pythonSetns("py_pid", net)]);
        const plainPid = pidOf(plain.stdout, "py_pid");
        const changed = await runAny(PYTHON, [
          "-c",
          pythonSetns("py_pid", net, `libc.unshare(${CLONE_NEWNS})`),
        ]);
        const changedPid = pidOf(changed.stdout, "py_pid");
        await waitEvents(
          events,
          () => kprobesOf(events, changedPid).length >= 1,
          "the changed process's setns",
        );
        await settle();
        expect(kprobesOf(events, changedPid)).toHaveLength(1);
        expect(kprobesOf(events, plainPid)).toHaveLength(0);
      });
    },
  );

  rootIt(
    "matchArgs Prefix on an fd argument: nsfs descriptors read as net:[inum]; only the net setns matches",
    async () => {
      const yaml = policy(
        "sel-fd-prefix",
        "sys_setns",
        [
          { index: 0, type: "fd" },
          { index: 1, type: "int" },
        ],
        [{ matchArgs: [{ index: 0, operator: "Prefix", values: ["net:"] }] }],
      );
      await withPolicies([yaml], async (events) => {
        const out = await inContainer(
          `${SH_PID("nsenter_pid")}; exec nsenter -m -u -n -i -t ${anchor.pid} true`,
        );
        const pid = pidOf(out, "nsenter_pid");
        await waitEvents(events, () => kprobesOf(events, pid).length >= 1, "the net setns");
        await settle();
        const kprobes = kprobesOf(events, pid);
        expect(kprobes).toHaveLength(1);
        const hostNet = readlinkSync(`/proc/${anchor.pid}/ns/net`);
        expect(kprobes[0]?.args[0]?.arg).toMatchObject({ case: "fileArg", value: { path: hostNet } });
        expect(kprobes[0]?.args[1]?.arg).toEqual({ case: "intArg", value: CLONE_NEWNET });
      });
    },
  );

  rootIt("matchArgs Equal and Postfix on openat's string path", async () => {
    const args = [
      { index: 1, type: "string" },
      { index: 2, type: "int" },
    ];
    const equalPath = join(dir, "open-equal");
    const yamls = [
      policy("sel-str-equal", "sys_openat", args, [
        { matchArgs: [{ index: 1, operator: "Equal", values: [equalPath] }] },
      ]),
      policy("sel-str-postfix", "sys_openat", args, [
        { matchArgs: [{ index: 1, operator: "Postfix", values: [".nsg-postfix"] }] },
      ]),
    ];
    await withPolicies(yamls, async (events) => {
      const script = `
print("py_pid=" + open("/proc/self/stat").read().split()[0], flush=True)
for p in ["${equalPath}-not", "${join(dir, "b.nsg-postfix-not")}", "${join(dir, "a.nsg-postfix")}", "${equalPath}"]:
    open(p, "w").close()
`;
      const out = await runAny(PYTHON, ["-c", script]);
      const pid = pidOf(out.stdout, "py_pid");
      await waitEvents(events, () => kprobesOf(events, pid, "sel-str-equal").length >= 1, "the Equal open");
      await waitEvents(
        events,
        () => kprobesOf(events, pid, "sel-str-postfix").length >= 1,
        "the Postfix open",
      );
      await settle();
      const paths = (name: string) => kprobesOf(events, pid, name).map((k) => k.args[0]?.arg);
      expect(paths("sel-str-equal")).toEqual([{ case: "stringArg", value: equalPath }]);
      expect(paths("sel-str-postfix")).toEqual([{ case: "stringArg", value: join(dir, "a.nsg-postfix") }]);
    });
  });

  rootIt("matchArgs on a file's path (fd of a directory) and on a char_buf's bytes", async () => {
    const target = join(dir, "fchdir-target");
    mkdirSync(target);
    mkdirSync(`${target}-not`);
    const yamls = [
      policy(
        "sel-file-path",
        "sys_fchdir",
        [{ index: 0, type: "fd" }],
        [{ matchArgs: [{ index: 0, operator: "Equal", values: [target] }] }],
      ),
      policy(
        "sel-char-buf",
        "sys_write",
        [
          { index: 1, type: "char_buf", sizeArgIndex: 3 },
          { index: 2, type: "size_t" },
        ],
        [{ matchArgs: [{ index: 1, operator: "Prefix", values: ["nsguard-buf:"] }] }],
      ),
      // No filter on the path, and alone on its syscall: the kernel reads the path only after the
      // selectors matched (no other hook's read of the same call can stand in for it).
      policy("sel-file-reported", "sys_fsync", [{ index: 0, type: "fd" }], []),
    ];
    await withPolicies(yamls, async (events) => {
      const script = `
import os
print("py_pid=" + open("/proc/self/stat").read().split()[0], flush=True)
fds = [os.open(d, os.O_RDONLY) for d in ["${target}-not", "${target}"]]
for fd in fds:
    os.fchdir(fd)
# After both fchdirs: a path left over from another call could not pass for the right one.
for fd in fds:
    os.fsync(fd)
null = os.open("/dev/null", os.O_WRONLY)
os.write(null, b"other:nsguard-buf:")
os.write(null, b"nsguard-buf:yes")
`;
      const pid = pidOf((await runAny(PYTHON, ["-c", script])).stdout, "py_pid");
      await waitEvents(events, () => kprobesOf(events, pid, "sel-file-path").length >= 1, "the fchdir");
      await waitEvents(events, () => kprobesOf(events, pid, "sel-char-buf").length >= 1, "the write");
      await waitEvents(events, () => kprobesOf(events, pid, "sel-file-reported").length >= 2, "the fsyncs");
      await settle();
      const args = (name: string) => kprobesOf(events, pid, name).map((k) => k.args.map((a) => a.arg));
      expect(args("sel-file-path")).toEqual([
        [{ case: "fileArg", value: expect.objectContaining({ path: target }) }],
      ]);
      expect(args("sel-file-reported")).toEqual([
        [{ case: "fileArg", value: expect.objectContaining({ path: `${target}-not` }) }],
        [{ case: "fileArg", value: expect.objectContaining({ path: target }) }],
      ]);
      expect(args("sel-char-buf")).toEqual([
        [
          { case: "bytesArg", value: new TextEncoder().encode("nsguard-buf:yes") },
          { case: "sizeArg", value: 15n },
        ],
      ]);
    });
  });
  rootIt(
    "matchNamespaces Net In an inode number: only a process in that network namespace matches",
    async () => {
      await withTarget(async (target) => {
        const inum = /\[(\d+)\]/.exec(readlinkSync(`/proc/${target}/ns/net`))?.[1] as string;
        const yaml = setnsPolicy("sel-ns-inum", {
          matchNamespaces: [{ namespace: "Net", operator: "In", values: [inum] }],
        });
        await withPolicies([yaml], async (events) => {
          const into = (pid: number) => `${SH_PID("nsenter_pid")}; exec nsenter -t ${pid} -u true`;
          const host = await runAny("sh", ["-c", into(anchor.pid)]);
          const hostPid = pidOf(host.stdout, "nsenter_pid");
          // Inside the target's network namespace (only), the same call.
          const inside = await runAny("nsenter", [
            "-t",
            `${target}`,
            "-n",
            "--",
            "sh",
            "-c",
            into(anchor.pid),
          ]);
          const insidePid = pidOf(inside.stdout, "nsenter_pid");
          await waitEvents(events, () => kprobesOf(events, insidePid).length >= 1, "the setns inside");
          await settle();
          expect(kprobesOf(events, insidePid)).toHaveLength(1);
          expect(kprobesOf(events, hostPid)).toHaveLength(0);
        });
      });
    },
  );

  rootIt("Signal delivers the named signal (argSig) at the call", async () => {
    const SIGUSR1 = 10;
    const yaml = setnsPolicy("sel-signal", {
      matchBinaries: [{ operator: "In", values: [privateNsenter] }],
      matchActions: [{ action: "Signal", argSig: SIGUSR1 }],
    });
    await withPolicies([yaml], async (events) => {
      const marker = join(dir, "signal-marker");
      const out = await runAny("sh", [
        "-c",
        `${SH_PID("nsenter_pid")}; exec ${privateNsenter} -t ${anchor.pid} -n -- touch ${marker}`,
      ]);
      expect(out.signal).toBe("SIGUSR1"); // SIGUSR1's default action ends the process
      expect(existsSync(marker)).toBe(false);
      const pid = pidOf(out.stdout, "nsenter_pid");
      await waitEvents(events, () => kprobesOf(events, pid).length >= 1, "the signal's event");
      expect(kprobesOf(events, pid)[0]?.action).toBe(KprobeAction.SIGNAL);
    });
  });

  rootIt(
    "Post rateLimit posts at most once per interval per process, whatever else the caller does",
    async () => {
      const yamls = [
        setnsPolicy("sel-rate", {
          matchArgs: [{ index: 1, operator: "Equal", values: [String(CLONE_NEWNET)] }],
          matchActions: [{ action: "Post", rateLimit: "1m", rateLimitScope: "process" }],
        }),
        // A hook that reads a string at every openat on the node (and posts none of them): the
        // kernel's per-call scratch then holds the last path opened when setns is judged.
        policy(
          "sel-rate-other-strings",
          "sys_openat",
          [{ index: 1, type: "string" }],
          [{ matchArgs: [{ index: 1, operator: "Equal", values: ["/nonexistent/nsguard"] }] }],
        ),
      ];
      await withPolicies(yamls, async (events) => {
        // Five identical calls (same fd, same nstype) in one process, then the same in another.
        const net = `/proc/${anchor.pid}/ns/net`;
        const script = pythonSetns("py_pid", []).concat(`
fd = os.open("${net}", os.O_RDONLY)
libc.syscall.restype = ctypes.c_long
for i in range(5):
    try:
        os.open("${dir}/rate-%d-%s" % (i, "x" * i), os.O_RDONLY)
    except FileNotFoundError:
        pass
    # setns(2) reads two registers; the other four carry whatever the caller left there, which
    # is no part of the call as the policy declares it.
    libc.syscall(${SYS_SETNS}, fd, ${CLONE_NEWNET}, i, i, i, i)
`);
        const first = pidOf((await runAny(PYTHON, ["-c", script])).stdout, "py_pid");
        const second = pidOf((await runAny(PYTHON, ["-c", script])).stdout, "py_pid");
        await waitEvents(events, () => kprobesOf(events, second).length >= 1, "the second process's post");
        await settle();
        expect(kprobesOf(events, first)).toHaveLength(1);
        expect(kprobesOf(events, second)).toHaveLength(1);
      });
    },
  );
  rootIt(
    "selectors are ORed and the first that matches acts: Post for the net setns, Sigkill for the uts one",
    async () => {
      const yaml = setnsPolicy(
        "sel-first-match",
        {
          matchArgs: [{ index: 1, operator: "Equal", values: [String(CLONE_NEWNET)] }],
          matchBinaries: [{ operator: "In", values: [privateNsenter] }],
        },
        {
          matchBinaries: [{ operator: "In", values: [privateNsenter] }],
          matchActions: [{ action: "Sigkill" }],
        },
      );
      await withPolicies([yaml], async (events) => {
        const enter = (flags: string) =>
          runAny("sh", [
            "-c",
            `${SH_PID("nsenter_pid")}; exec ${privateNsenter} -t ${anchor.pid} ${flags} true`,
          ]);
        const net = await enter("-n");
        expect(net).toMatchObject({ code: 0, signal: null });
        const uts = await enter("-u");
        expect(uts.signal).toBe("SIGKILL");
        const netPid = pidOf(net.stdout, "nsenter_pid");
        const utsPid = pidOf(uts.stdout, "nsenter_pid");
        await waitEvents(events, () => kprobesOf(events, utsPid).length >= 1, "the uts setns's kill");
        expect(kprobesOf(events, netPid).map((k) => k.action)).toEqual([KprobeAction.POST]);
        expect(kprobesOf(events, utsPid).map((k) => k.action)).toEqual([KprobeAction.SIGKILL]);
      });
    },
  );

  rootIt(
    "matchCapabilities isNamespaceCapability: only a process outside the host's user namespace matches",
    async () => {
      const yaml = setnsPolicy("sel-caps-userns", {
        matchCapabilities: [
          { type: "Effective", operator: "In", values: ["CAP_SYS_ADMIN"], isNamespaceCapability: true },
        ],
      });
      await withPolicies([yaml], async (events) => {
        // The namespace file is opened first (a process in a new user namespace may not open the
        // host's), then setns is called in the host's user namespace, or after unshare with every
        // capability in a new one (and refused there).
        const net: [string, number][] = [[`/proc/${anchor.pid}/ns/net`, CLONE_NEWNET]];
        const host = await runAny(PYTHON, ["-c", pythonSetns("py_pid", net)]);
        const hostPid = pidOf(host.stdout, "py_pid");
        const openFirst = `
fd = os.open("/proc/${anchor.pid}/ns/net", os.O_RDONLY)
if libc.unshare(${CLONE_NEWUSER}) != 0:
    print("unshare failed", flush=True)
libc.setns(fd, ${CLONE_NEWNET})
`;
        const userns = await runAny(PYTHON, ["-c", pythonSetns("py_pid", []).concat(openFirst)]);
        expect(userns.stdout).not.toContain("unshare failed");
        const usernsPid = pidOf(userns.stdout, "py_pid");
        await waitEvents(events, () => kprobesOf(events, usernsPid).length >= 1, "the user-namespace setns");
        await settle();
        expect(kprobesOf(events, usernsPid)).toHaveLength(1);
        expect(kprobesOf(events, hostPid)).toHaveLength(0);
      });
    },
  );
  // Tetragon's matchBinaries matches the interpreter for a script with a shebang (the kernel runs
  // the interpreter with the script as an argument; cilium/tetragon#4577 documents it).
  rootIt("matchBinaries of a script is its interpreter's path, as Tetragon's", async () => {
    const script = join(dir, "setns-script");
    writeFileSync(
      script,
      `#!${PYTHON}\n${pythonSetns("py_pid", [[`/proc/${anchor.pid}/ns/net`, CLONE_NEWNET]])}`,
      { mode: 0o755 },
    );
    const yamls = [
      setnsPolicy("sel-script-interp", { matchBinaries: [{ operator: "In", values: [PYTHON] }] }),
      setnsPolicy("sel-script-path", { matchBinaries: [{ operator: "In", values: [script] }] }),
    ];
    await withPolicies(yamls, async (events) => {
      const pid = pidOf((await runAny(script, [])).stdout, "py_pid");
      await waitEvents(
        events,
        () => kprobesOf(events, pid, "sel-script-interp").length >= 1,
        "the script's setns",
      );
      await settle();
      expect(kprobesOf(events, pid, "sel-script-path")).toHaveLength(0);
      expect(kprobesOf(events, pid, "sel-script-interp")).toHaveLength(1);
    });
  });
});
