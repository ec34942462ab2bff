import { execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect } from "vitest";
import { rootIt, waitFor } from "./root-tier.js";

// `nsguard agent --export-filename -` as a container runs it: events on stdout for the log
// collector, logs on stderr, never mixed.
const repo = new URL("../../../../", import.meta.url).pathname;
const nsguard = join(repo, "packages/cli/bin/nsguard.js");
const dir = mkdtempSync(join(tmpdir(), "nsguard-export-stdout-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("JSON export to stdout through the real CLI", () => {
  rootIt(
    "every stdout line is an event, every stderr line a log record",
    async () => {
      const marker = `nsguard-export-stdout-${process.pid}-${Date.now()}`;
      // A private mount namespace with an empty /run: the agent's info file lands there rather
      // than in the host's /var/run/nsguard, and no host container runtime socket is found.
      const agent = spawn(
        "unshare",
        [
          "--mount",
          "sh",
          "-c",
          'mount -t tmpfs tmpfs /run && exec "$0" "$@"',
          process.execPath,
          nsguard,
          "agent",
          "--export-filename",
          "-",
          "--server-address",
          "127.0.0.1:0",
          "--server-socket",
          join(dir, "nsguard.sock"),
          "--log-level",
          "info",
        ],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
      let stdout = "";
      let stderr = "";
      agent.stdout.on("data", (d: Buffer) => {
        stdout += d.toString();
      });
      agent.stderr.on("data", (d: Buffer) => {
        stderr += d.toString();
      });
      const exited = new Promise<number | null>((r) => agent.once("exit", r));
      try {
        await waitFor(
          () => stderr.includes("nsguard agent running") || agent.exitCode !== null,
          45_000,
          "the agent",
        );
        expect(agent.exitCode, stderr).toBeNull();
        await promisify(execFile)("/bin/echo", [marker]);
        await waitFor(() => stdout.includes(marker), 20_000, "the marker's exec on stdout");
      } finally {
        agent.kill("SIGTERM");
      }
      expect(await exited).toBe(0);

      const events = stdout
        .trimEnd()
        .split("\n")
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      const eventKeys = new Set([
        "process_exec",
        "process_exit",
        "process_kprobe",
        "process_tracepoint",
        "process_throttle",
      ]);
      for (const e of events) {
        expect(
          Object.keys(e).filter((k) => eventKeys.has(k)),
          JSON.stringify(e),
        ).toHaveLength(1);
        expect(e).not.toHaveProperty("msg");
      }
      const echo = events.find((e) => JSON.stringify(e).includes(marker)) as {
        process_exec?: { process: { binary: string; arguments: string } };
      };
      expect(echo.process_exec?.process).toMatchObject({ binary: "/bin/echo", arguments: marker });
      const logs = stderr
        .trimEnd()
        .split("\n")
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      for (const log of logs)
        expect(log, JSON.stringify(log)).toMatchObject({
          level: expect.any(Number),
          msg: expect.any(String),
        });
      expect(logs.map((l) => l.msg)).toContain("stopping");
      console.log(`stdout export: ${events.length} event lines, ${logs.length} log lines`);
    },
    90_000,
  );
});
