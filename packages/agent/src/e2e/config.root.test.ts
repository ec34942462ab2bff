import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect } from "vitest";
import { EXAMPLES, isRoot, rootIt, waitFor } from "./root-tier.js";

// `nsguard agent` as an operator runs it, configured only by a configuration file and directory:
// the real binary, the real kernel programs, the settings applied (events land in the export file
// the file names) and SIGHUP re-reading the log level from the directory.
const repo = new URL("../../../../", import.meta.url).pathname;
const nsguard = join(repo, "packages/cli/bin/nsguard.js");
const dir = mkdtempSync(join(tmpdir(), "nsguard-config-e2e-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.runIf(isRoot || process.env.CI)("nsguard agent configured by files (root tier)", () => {
  rootIt(
    "a config file's export-filename is where events go; SIGHUP applies a new log-level from the config dir",
    async () => {
      const exportFile = join(dir, "events.log");
      const configFile = join(dir, "nsguard.yaml");
      writeFileSync(
        configFile,
        [
          `tracing-policy:\n  - ${join(EXAMPLES, "namespace-access.yaml")}`,
          // An ephemeral port and no socket: other tests run agents alongside.
          `server-address: "127.0.0.1:0"`,
          `server-socket: ""`,
          `export-filename: ${exportFile}`,
          "node-name: config-e2e",
        ].join("\n"),
      );
      const confDir = join(dir, "nsguard.conf.d");
      mkdirSync(confDir);
      writeFileSync(join(confDir, "log-level"), "info\n");

      // A private /run (tmpfs): the agent's info file, and podman's and containerd's default
      // sockets, stay this test's own instead of the machine's.
      const agent: ChildProcess = spawn(
        "unshare",
        [
          "--mount",
          "--propagation",
          "private",
          "sh",
          "-c",
          'mount -t tmpfs tmpfs /run && exec "$@"',
          "sh",
          process.execPath,
          nsguard,
          "agent",
          "--config-file",
          configFile,
          "--config-dir",
          confDir,
        ],
        { stdio: ["ignore", "ignore", "pipe"] },
      );
      let stderr = "";
      agent.stderr?.on("data", (d: Buffer) => {
        stderr += d.toString();
      });
      const exited = new Promise<number | null>((resolve) => agent.on("exit", (code) => resolve(code)));
      try {
        await waitFor(
          () => stderr.includes("nsguard agent running") || agent.exitCode !== null,
          60_000,
          "the agent",
        );
        expect(stderr).toContain('"nodeName":"config-e2e"');

        // A setns into the shell's own UTS namespace: an event for the policy, whatever the target.
        const exported = () => (existsSync(exportFile) ? readFileSync(exportFile, "utf8") : "");
        await waitFor(
          () => {
            execFileSync("sh", ["-c", "nsenter -t $$ -u true"]);
            return exported()
              .split("\n")
              .some(
                (line) => line.includes('"process_kprobe"') && line.includes('"binary":"/usr/bin/nsenter"'),
              );
          },
          30_000,
          "an nsenter event in the export file",
        );
        expect(exported()).toContain('"node_name":"config-e2e"');

        // debug is not logged at info; after editing the directory and SIGHUP it is.
        expect(stderr).not.toContain("log level changed");
        writeFileSync(join(confDir, "log-level"), "debug\n");
        agent.kill("SIGHUP");
        await waitFor(() => stderr.includes("log level changed"), 30_000, "the log level change");
        expect(stderr).toMatch(/"logLevel":"debug","msg":"log level changed"/);
        // An invalid value is reported and keeps the agent running.
        writeFileSync(join(confDir, "log-level"), "loud\n");
        agent.kill("SIGHUP");
        await waitFor(() => stderr.includes("configuration reload failed"), 30_000, "the failed reload");
        expect(stderr).toContain('log-level: \\"loud\\" is invalid');
        expect(agent.exitCode).toBeNull();
      } finally {
        agent.kill("SIGTERM");
        expect(await exited).toBe(0);
      }
    },
    120_000,
  );
});
