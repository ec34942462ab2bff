import { execFile } from "node:child_process";
import { readlinkSync } from "node:fs";
import { promisify } from "node:util";
import {
  type GetEventsResponse,
  NamespaceDirection,
  NamespaceKind,
  NamespaceTarget,
  type ProcessKprobe,
  toCompact,
} from "@nsguard/sdk";
import { afterAll, beforeAll, describe, expect } from "vitest";
import type { RunningAgent } from "../agent.js";
import { startHostAnchor } from "../sim/simulated-container.js";
import { collectKprobes, isRoot, kprobeOf, rootIt, startExampleAgent, waitFor } from "./root-tier.js";

const run = promisify(execFile);
const CLONE_NEWNS = 0x20000;
const CLONE_NEWUTS = 0x4000000;
const CLONE_NEWNET = 0x40000000;
const SIGCHLD = 17;

/**
 * A Python helper run inside the test's "containers" (fresh namespaces from unshare(1), sharing
 * the host pid namespace as a --pid=host container does): raw clone/clone3/setns through libc's
 * syscall(), since neither the shell nor Python 3.11 has them. Prints its pid first.
 */
const PY_PRELUDE = `
import ctypes, os, struct
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
print(os.getpid(), flush=True)
def child_exits(pid):
    if pid == 0:
        os._exit(0)
    if pid < 0:
        raise OSError(ctypes.get_errno(), "clone")
    os.waitpid(pid, 0)
`;

/** Kinds and directions of an event's namespace_changes, in message order. */
function changesOf(k: ProcessKprobe): [NamespaceKind, NamespaceDirection][] {
  return (k.namespaceChanges?.changes ?? []).map((c) => [c.kind, c.direction]);
}

describe.runIf(isRoot || process.env.CI)("examples/namespace-surface.yaml (root tier)", () => {
  let agent: RunningAgent;
  let anchor: ReturnType<typeof startHostAnchor>;
  const abort = new AbortController();
  let events: GetEventsResponse[];
  const ofPid = (pid: number) => events.filter((ev) => kprobeOf(ev).process?.pid === pid).map(kprobeOf);

  beforeAll(async () => {
    anchor = startHostAnchor();
    agent = await startExampleAgent("namespace-surface.yaml", { nodeName: "surface" });
    events = await collectKprobes(agent, { policyNames: ["namespace-surface"] }, abort.signal);
  }, 60_000);
  afterAll(async () => {
    abort.abort();
    await agent?.stop();
    anchor?.stop();
  });

  rootIt("an unshare of net+mnt is reported as new net,mnt, with the kinds' namespaces before", async () => {
    const { stdout } = await run("unshare", ["-n", "-m", "sh", "-c", "echo $$"]);
    // unshare(1) calls unshare(2) and then execs sh: sh's pid is the caller's.
    const pid = Number(stdout.trim());
    await waitFor(() => ofPid(pid).length >= 1, 5000, "the unshare event");
    const [ev] = events.filter((e) => kprobeOf(e).process?.pid === pid);
    const k = kprobeOf(ev);
    expect(k.functionName).toBe("__x64_sys_unshare");
    expect(k.args[0]?.arg).toEqual({ case: "intArg", value: CLONE_NEWNET | CLONE_NEWNS });
    expect(changesOf(k)).toEqual([
      [NamespaceKind.MNT, NamespaceDirection.NEW],
      [NamespaceKind.NET, NamespaceDirection.NEW],
    ]);
    const self = Number((await run("stat", ["-L", "-c", "%i", "/proc/self/ns/net"])).stdout);
    expect(k.namespaceChanges?.changes[1]).toMatchObject({
      before: self,
      after: 0,
      fromHost: true,
      toHost: false,
    });
    expect(k.namespaceChanges?.escape).toBe(false);
    expect(toCompact(ev as GetEventsResponse)).toBe("🔧 unshare surface /usr/bin/unshare new net,mnt");
  });

  rootIt("clone and clone3 that create namespaces are reported; a plain fork is not", async () => {
    const script = `${PY_PRELUDE}
child_exits(os.fork())
child_exits(libc.syscall(56, ${CLONE_NEWUTS | SIGCHLD}, 0, 0, 0, 0))
args = struct.pack("11Q", ${CLONE_NEWUTS | CLONE_NEWNET}, 0, 0, 0, ${SIGCHLD}, 0, 0, 0, 0, 0, 0)
buf = ctypes.create_string_buffer(args, len(args))
child_exits(libc.syscall(435, buf, len(args)))
child_exits(os.fork())
`;
    const { stdout } = await run("python3", ["-c", script]);
    const pid = Number(stdout.trim().split("\n")[0]);
    await waitFor(() => ofPid(pid).length >= 2, 5000, "the clone and clone3 events");
    // Give a wrongly reported fork (after clone3) the time to show up too.
    await run("sh", ["-c", "sleep 0.3"]);
    const kprobes = ofPid(pid);
    expect(kprobes.map((k) => k.functionName)).toEqual(["__x64_sys_clone", "__x64_sys_clone3"]);
    expect(changesOf(kprobes[0] as ProcessKprobe)).toEqual([[NamespaceKind.UTS, NamespaceDirection.NEW]]);
    // clone3's flags are read from struct clone_args and shown as argument 0.
    expect(kprobes[1]?.args[0]?.arg).toEqual({ case: "sizeArg", value: BigInt(CLONE_NEWUTS | CLONE_NEWNET) });
    expect(changesOf(kprobes[1] as ProcessKprobe)).toEqual([
      [NamespaceKind.UTS, NamespaceDirection.NEW],
      [NamespaceKind.NET, NamespaceDirection.NEW],
    ]);
  });

  rootIt(
    "a pidfd setns into the host from a container sharing the host pid namespace: net and uts container → host",
    async () => {
      const script = `${PY_PRELUDE}
fd = os.pidfd_open(${anchor.pid})
if libc.setns(fd, ${CLONE_NEWNET | CLONE_NEWUTS}) != 0:
    raise OSError(ctypes.get_errno(), "setns")
print(open("/proc/self/ns/net").name, os.readlink("/proc/self/ns/net"), flush=True)
`;
      const { stdout } = await run("unshare", ["-n", "-u", "-m", "python3", "-c", script]);
      const pid = Number(stdout.trim().split("\n")[0]);
      const hostNet = Number((await run("stat", ["-L", "-c", "%i", `/proc/${anchor.pid}/ns/net`])).stdout);
      expect(stdout).toContain(`net:[${hostNet}]`); // the call really entered the host's network
      // unshare(1) execs python3 in the same process: its unshare comes first, then the setns.
      const setnsOf = () => ofPid(pid).filter((k) => k.functionName === "__x64_sys_setns");
      await waitFor(() => setnsOf().length >= 1, 5000, "the setns event");
      const [k] = setnsOf();
      if (!k) throw new Error("no event");
      expect(k.namespaceChanges?.target).toBe(NamespaceTarget.PIDFD);
      expect(changesOf(k)).toEqual([
        [NamespaceKind.UTS, NamespaceDirection.CONTAINER_TO_HOST],
        [NamespaceKind.NET, NamespaceDirection.CONTAINER_TO_HOST],
      ]);
      expect(k.namespaceChanges?.changes[1]).toMatchObject({ after: hostNet, toHost: true, fromHost: false });
      expect(k.namespaceChanges?.escape).toBe(true);
      const ev = events.find((e) => kprobeOf(e) === k) as GetEventsResponse;
      expect(toCompact(ev)).toMatch(/^🔧 setns {3}surface \S*python3\S* net,uts → host$/);
    },
  );

  rootIt(
    "nsenter from a container into the host's namespace files is container → host; from the host into a container, host → container",
    async () => {
      const script = `echo $$; nsenter --net=/proc/${anchor.pid}/ns/net --uts=/proc/${anchor.pid}/ns/uts true`;
      const { stdout } = await run("unshare", ["-n", "-u", "sh", "-c", script]);
      const shPid = Number(stdout.trim());
      const intoHost = () => events.map(kprobeOf).filter((k) => k.parent?.pid === shPid);
      await waitFor(() => intoHost().length >= 2, 5000, "nsenter's two setns events");
      for (const k of intoHost()) {
        expect(k.namespaceChanges?.target).toBe(NamespaceTarget.NSFS);
        expect(k.namespaceChanges?.escape).toBe(true);
      }
      expect(intoHost().flatMap(changesOf).sort()).toEqual(
        [
          [NamespaceKind.UTS, NamespaceDirection.CONTAINER_TO_HOST],
          [NamespaceKind.NET, NamespaceDirection.CONTAINER_TO_HOST],
        ].sort(),
      );

      // The other way: a host process enters a "container" (runtime work, as runc does on exec).
      const container = await run("sh", ["-c", "unshare -n -u sleep 30 >/dev/null 2>&1 & echo $!"]);
      const target = Number(container.stdout.trim());
      try {
        await waitFor(
          () => {
            try {
              return readlinkSync(`/proc/${target}/ns/net`) !== readlinkSync("/proc/self/ns/net");
            } catch {
              return false;
            }
          },
          5000,
          "the container's namespaces",
        );
        const entered = await run("sh", ["-c", `echo $$; nsenter -t ${target} -n -u true`]);
        const hostSh = Number(entered.stdout.trim());
        const intoContainer = () => events.map(kprobeOf).filter((k) => k.parent?.pid === hostSh);
        await waitFor(() => intoContainer().length >= 2, 5000, "the host → container setns events");
        for (const k of intoContainer()) {
          expect(k.namespaceChanges?.escape).toBe(false);
          expect(changesOf(k).map(([, d]) => d)).toEqual([NamespaceDirection.HOST_TO_CONTAINER]);
        }
      } finally {
        process.kill(target, "SIGKILL");
      }
    },
  );
});
