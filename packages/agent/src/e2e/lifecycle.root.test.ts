import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import {
  appendFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { createNsguardClient, EventType, type GetEventsResponse } from "@nsguard/sdk";
import { afterAll, beforeAll, describe, expect } from "vitest";
import { EXAMPLES, isRoot, kprobeOf, rootIt, waitFor } from "./root-tier.js";

// The agent's lifecycle as an operator meets it: the real `nsguard agent` process, started from
// the CLI, stopped by a signal under load (bounded, flushed, nothing left in the kernel), killed
// outright and started again on the same paths, and probed over HTTP.
const repo = new URL("../../../../", import.meta.url).pathname;
const nsguard = join(repo, "packages/cli/bin/nsguard.js");

interface AgentProcess {
  child: ChildProcess;
  /** Every log line (pino JSON on stderr) so far. */
  logs: () => Record<string, unknown>[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  tcpUrl: string;
  healthUrl: string;
  metricsUrl: string;
}

/** The BPF objects a process holds, by kind, from its /proc fds (`fdinfo` names each object's id). */
function bpfObjectsOf(pid: number): { prog: Set<number>; map: Set<number>; link: Set<number> } {
  const out = { prog: new Set<number>(), map: new Set<number>(), link: new Set<number>() };
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue; // closed meanwhile
    }
    if (!target.startsWith("anon_inode:bpf")) continue;
    const info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, "utf8");
    for (const kind of ["prog", "map", "link"] as const) {
      const id = new RegExp(`^${kind}_id:\\s*(\\d+)`, "m").exec(info)?.[1];
      if (id !== undefined) out[kind].add(Number(id));
    }
  }
  return out;
}

/** Ids of every BPF object of a kind loaded on the node now (bpftool). */
function loadedIds(kind: "prog" | "map" | "link"): Set<number> {
  const list = JSON.parse(execFileSync("/usr/sbin/bpftool", [kind, "show", "-j"], { encoding: "utf8" })) as {
    id: number;
  }[];
  return new Set(list.map((o) => o.id));
}

describe.runIf(isRoot || process.env.CI)("agent lifecycle (root tier: the real agent process)", () => {
  let dir: string;
  let paced: string;
  const started: AgentProcess[] = [];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "nsguard-lifecycle-"));
    // The bench's paced setns generator under a name of its own, so filters count only its calls.
    paced = join(dir, `setns-lifecycle-${process.pid}`);
    execFileSync("cc", ["-O2", "-o", paced, join(repo, "bench/setns-paced.c")]);
  });
  afterAll(() => {
    for (const a of started)
      if (a.child.exitCode === null && a.child.signalCode === null) a.child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  const paths = () => ({
    socket: join(dir, "run", "nsguard.sock"),
    info: join(dir, "run", "nsguard-info.json"),
    export: join(dir, "export.log"),
  });

  /** `nsguard agent` as one process (the heap flag given, so the CLI does not re-spawn itself). */
  async function startAgentProcess(exportFile = paths().export): Promise<AgentProcess> {
    const p = paths();
    const child = spawn(
      process.execPath,
      [
        "--max-semi-space-size=4",
        nsguard,
        "agent",
        "--tracing-policy",
        join(EXAMPLES, "namespace-access.yaml"),
        "--server-address",
        "127.0.0.1:0",
        "--server-socket",
        p.socket,
        "--info-file",
        p.info,
        "--export-filename",
        exportFile,
        "--metrics-server",
        "127.0.0.1:0",
        "--health-server-address",
        "127.0.0.1:0",
        "--podman-socket",
        "",
        "--cri-endpoint",
        "",
        "--node-name",
        "lifecycle-node",
        "--log-level",
        "info",
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const logs = () =>
      stderr
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>(
      (resolve) => child.once("exit", (code, signal) => resolve({ code, signal, at: performance.now() })),
    );
    const running = () => logs().find((l) => l.msg === "nsguard agent running");
    await Promise.race([
      waitFor(() => running() !== undefined, 60_000, "the agent to start"),
      exited.then(({ code }) => {
        throw new Error(`agent exited (${code}) before running:\n${stderr}`);
      }),
    ]);
    const line = running() as { addresses: { tcp: { url: string } }; health: string; metrics: string };
    const agent = {
      child,
      logs,
      exited,
      tcpUrl: line.addresses.tcp.url,
      healthUrl: line.health,
      metricsUrl: line.metrics,
    };
    started.push(agent);
    return agent;
  }

  /** Kprobe events of the generator, through the SDK; `ended` settles with how the stream ended. */
  function collect(url: string): { events: GetEventsResponse[]; ended: Promise<unknown> } {
    const events: GetEventsResponse[] = [];
    const allowList = [{ eventSet: [EventType.PROCESS_KPROBE], binaryRegex: [`${paced.split("/").pop()}$`] }];
    const ended = (async () => {
      for await (const ev of createNsguardClient(url).getEvents({ allowList })) events.push(ev);
      return "ended without an error";
    })().catch((err: unknown) => err);
    return { events, ended };
  }

  /** Every line of the export, rotated files (export.log.N … .1, oldest first) included. */
  const exportLines = () => {
    const base = paths().export;
    const rotated = readdirSync(dir)
      .filter((f) => /^export\.log\.\d+$/.test(f))
      .sort((a, b) => Number(b.split(".").pop()) - Number(a.split(".").pop()))
      .map((f) => join(dir, f));
    return [...rotated, base].flatMap((f) => readFileSync(f, "utf8").split("\n")).filter((l) => l !== "");
  };

  rootIt(
    "SIGTERM under load: exits cleanly within the bound, streams end with Unavailable, the export is flushed and whole, no BPF object is left",
    async () => {
      const agent = await startAgentProcess();
      const pid = agent.child.pid as number;
      const held = bpfObjectsOf(pid);
      expect(held.prog.size).toBeGreaterThan(0);
      expect(held.map.size).toBeGreaterThan(0);
      const ready = await fetch(`${agent.healthUrl}/readyz`);
      expect([ready.status, await ready.text()]).toEqual([200, "ready\n"]);

      const client = collect(agent.tcpUrl);
      // A rate the export keeps up with on this 2-core machine beside the test's own client
      // (the exporter alone writes ~3.8k small events/s here), so the stop's drain can finish
      // and every event must be in the file; the generator still runs when the signal comes.
      const load = spawn(paced, ["300", "20"], { stdio: "ignore" });
      try {
        await waitFor(() => client.events.length > 900, 30_000, "events at the client under load");
        agent.child.kill("SIGTERM");
        const signalled = performance.now();
        const { code, at } = await agent.exited;
        const elapsedMs = at - signalled;
        const drained = agent.logs().find((l) => l.msg === "pipeline stopped");
        console.log(
          `SIGTERM → exit: ${elapsedMs.toFixed(0)} ms; client got ${client.events.length} events; ${JSON.stringify(drained)}`,
        );
        // 0 = the stop finished; the hard exit past the 5 s bound would be 2.
        expect(code).toBe(0);
        expect(agent.logs().some((l) => l.msg === "stopped")).toBe(true);
        expect(agent.logs().some((l) => String(l.msg).startsWith("shutdown did not finish"))).toBe(false);

        // The stream got a gRPC status, not a reset: Unavailable, "server is shutting down".
        const end = await client.ended;
        expect(end).toBeInstanceOf(ConnectError);
        expect((end as ConnectError).code).toBe(Code.Unavailable);

        // The export: every line whole JSON, and flushed: the file holds exactly the events the
        // exporter took, the last one included. When it had caught up at the stop (nothing left
        // undelivered; the node's other load decides), every event the client got is in it too.
        const stopped = drained as { exported: number; undelivered: Record<string, number> };
        const lines = exportLines().map(
          (l) => JSON.parse(l) as { process_kprobe?: { process: { binary: string; pid: number } } },
        );
        expect(lines.length).toBe(stopped.exported);
        expect(readFileSync(paths().export, "utf8").endsWith("\n")).toBe(true);
        if (Object.keys(stopped.undelivered).length === 0) {
          const mine = lines.filter((l) => l.process_kprobe?.process.binary === paced);
          expect(mine.length).toBeGreaterThanOrEqual(client.events.length);
        }
        expect(kprobeOf(client.events.at(-1)).process?.binary).toBe(paced);

        // Nothing the agent held is loaded any more, and it removed its socket and info file.
        // (The kernel frees them in deferred work after the last reference goes: waited for.)
        const left = () => {
          const progs = loadedIds("prog");
          const maps = loadedIds("map");
          const links = loadedIds("link");
          return [
            ...[...held.prog].filter((id) => progs.has(id)),
            ...[...held.map].filter((id) => maps.has(id)),
            ...[...held.link].filter((id) => links.has(id)),
          ];
        };
        await waitFor(() => left().length === 0, 15_000, "the agent's BPF objects to be freed");
        expect(left()).toEqual([]);
        expect(existsSync(paths().socket)).toBe(false);
        expect(existsSync(paths().info)).toBe(false);
      } finally {
        load.kill("SIGKILL");
      }
    },
    120_000,
  );

  rootIt(
    "SIGKILL mid-storm, then a start on the same paths: the kernel dropped the old objects, the new agent serves, the export stays whole",
    async () => {
      const first = await startAgentProcess();
      const held = bpfObjectsOf(first.child.pid as number);
      const client = collect(first.tcpUrl);
      const load = spawn(paced, ["200000", "6"], { stdio: "ignore" });
      try {
        await waitFor(() => client.events.length > 1000, 30_000, "the storm at the client");
        first.child.kill("SIGKILL");
        expect((await first.exited).signal).toBe("SIGKILL");
      } finally {
        load.kill("SIGKILL");
      }
      // What the killed run leaves: its socket and info file (nothing ran to remove them).
      expect(existsSync(paths().socket)).toBe(true);
      expect(existsSync(paths().info)).toBe(true);
      // A fatal signal can cut a write(2) short: the file may end in a partial line. It is made
      // so here, as the kill may or may not have landed mid-write.
      appendFileSync(paths().export, '{"process_kprobe":{"process":{"exec_id":"cut-by-sigkill');
      // No pins: the kernel frees the objects with the fds (deferred work, so waited for).
      await waitFor(
        () => {
          const progs = loadedIds("prog");
          return [...held.prog].every((id) => !progs.has(id));
        },
        15_000,
        "the killed agent's programs to be freed",
      );

      const second = await startAgentProcess();
      try {
        // The exporter cuts the torn line off as it opens the file, and says so.
        expect(
          second
            .logs()
            .some((l) => /cut a torn last line/.test(String((l.err as { message?: string })?.message))),
        ).toBe(true);
        const ready = await fetch(`${second.healthUrl}/readyz`);
        expect(ready.status).toBe(200);
        const live = await fetch(`${second.healthUrl}/healthz`);
        expect([live.status, await live.text()]).toEqual([200, "ok\n"]);
        // Serves on the socket the killed run left (replaced, not refused) and on TCP.
        const health = await createNsguardClient(`unix://${paths().socket}`).getHealth({});
        expect(health.healthStatus.length).toBeGreaterThan(0);
        const info = JSON.parse(readFileSync(paths().info, "utf8")) as { server_address: string };
        expect(info.server_address).toBe(`unix://${paths().socket}`);
        // Events flow again, into the export after the last whole line.
        const out = execFileSync(paced, ["1000", "1"], { encoding: "utf8" });
        const calls = Number(out.trim().split(" ")[0]);
        await waitFor(
          () => exportLines().filter((l) => l.includes(paced) && l.includes("lifecycle-node")).length > 0,
          30_000,
          "the new run's events in the export",
        );
        expect(calls).toBe(1000);
      } finally {
        second.child.kill("SIGTERM");
        expect((await second.exited).code).toBe(0);
      }
      for (const line of exportLines()) expect(() => JSON.parse(line)).not.toThrow();
    },
    120_000,
  );

  rootIt(
    "a stop that hangs (the export's filesystem frozen) ends at the 5 s bound: a log line, exit code 2, no BPF object left",
    async () => {
      // A disk that stops taking writes: the export on a loop-mounted ext4 frozen mid-run
      // (fsfreeze), so the exporter's writes block and its flush at stop cannot finish.
      const image = join(dir, "frozen.img");
      const mnt = join(dir, "frozen");
      execFileSync("truncate", ["-s", "32M", image]);
      execFileSync("mkfs.ext4", ["-q", "-F", image]);
      execFileSync("mkdir", ["-p", mnt]);
      execFileSync("mount", ["-o", "loop", image, mnt]);
      let frozen = false;
      const load = spawn(paced, ["2000", "30"], { stdio: "ignore" });
      try {
        const agent = await startAgentProcess(join(mnt, "export.log"));
        const held = bpfObjectsOf(agent.child.pid as number);
        await new Promise((r) => setTimeout(r, 1000));
        execFileSync("fsfreeze", ["-f", mnt]);
        frozen = true;
        await new Promise((r) => setTimeout(r, 1000)); // a write is now blocked
        agent.child.kill("SIGTERM");
        const signalled = performance.now();
        const hardExitLine = () =>
          agent.logs().find((l) => String(l.msg).startsWith("shutdown did not finish within 5000 ms"));
        await waitFor(() => hardExitLine() !== undefined, 30_000, "the hard-exit log line");
        console.log(`hung stop → hard exit logged after ${(performance.now() - signalled).toFixed(0)} ms`);
        // A thread blocked in write(2) on a frozen filesystem holds the exit until it thaws.
        execFileSync("fsfreeze", ["-u", mnt]);
        frozen = false;
        expect((await agent.exited).code).toBe(2);
        await waitFor(
          () => {
            const progs = loadedIds("prog");
            return [...held.prog].every((id) => !progs.has(id));
          },
          15_000,
          "the programs of the hard-exited agent to be freed",
        );
      } finally {
        load.kill("SIGKILL");
        if (frozen) execFileSync("fsfreeze", ["-u", mnt]);
        execFileSync("umount", ["-l", mnt]);
      }
    },
    120_000,
  );
});
