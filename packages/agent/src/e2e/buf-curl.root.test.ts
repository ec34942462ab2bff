import { execFile, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect } from "vitest";
import { isRoot, rootIt, startExampleAgent, waitFor } from "./root-tier.js";

// The README's ad hoc query, against a real agent: `buf curl` (grpc-go style h2c with prior
// knowledge, schema from proto/) streams GetEvents and reads GetHealth.
const repo = new URL("../../../../", import.meta.url).pathname;
const buf = join(repo, "node_modules/.bin/buf");
const dir = mkdtempSync(join(tmpdir(), "nsguard-bufcurl-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.runIf(isRoot || process.env.CI)("buf curl against a running agent (root tier)", () => {
  rootIt("streams GetEvents and answers GetHealth", async () => {
    const agent = await startExampleAgent("namespace-access.yaml", {
      serverSocket: join(dir, "nsguard.sock"),
      nodeName: "curl-node",
    });
    const base = agent.server.addresses.tcp?.url;
    const common = ["curl", "--protocol", "grpc", "--http2-prior-knowledge", "--schema", join(repo, "proto")];
    try {
      // Async: the agent's server runs on this very event loop.
      const health = await promisify(execFile)(
        buf,
        [...common, `${base}/tetragon.FineGuidanceSensors/GetHealth`, "-d", "{}"],
        {
          timeout: 20_000,
        },
      );
      const answer = JSON.parse(health.stdout);
      expect(answer.healthStatus).toEqual([
        { event: "HEALTH_STATUS_TYPE_STATUS", status: "HEALTH_STATUS_RUNNING", details: "running" },
      ]);
      // nsguard's pipeline counters ride along (field 10000; Tetragon clients skip it).
      // (protojson omits zeros and empty lists: no listener is streaming yet.)
      expect(typeof answer.pipeline).toBe("object");
      expect(answer.pipeline.listeners ?? []).toEqual([]);

      const request = JSON.stringify({
        allow_list: [{ event_set: ["PROCESS_KPROBE"], binary_regex: ["nsenter$"] }],
      });
      const curl = spawn(buf, [...common, `${base}/tetragon.FineGuidanceSensors/GetEvents`, "-d", request], {
        stdio: ["ignore", "pipe", "pipe"],
        detached: true,
      });
      let out = "";
      curl.stdout.on("data", (d: Buffer) => {
        out += d.toString();
      });
      try {
        // Keep calling setns until buf curl has printed one event (its stream may start late).
        await waitFor(
          () => {
            spawnSync("nsenter", ["--net=/proc/self/ns/net", "true"]);
            return out.includes("processKprobe");
          },
          15_000,
          "a process_kprobe event from buf curl",
        );
      } finally {
        if (curl.pid !== undefined) process.kill(-curl.pid, "SIGTERM");
      }
      const first = JSON.parse(out.slice(0, out.indexOf("\n}\n") + 2));
      expect(first.processKprobe.functionName).toBe("__x64_sys_setns");
      expect(first.processKprobe.policyName).toBe("namespace-access");
      expect(first.processKprobe.process.binary).toMatch(/nsenter$/);
      expect(first.nodeName).toBe("curl-node");
    } finally {
      await agent.stop();
    }
  });
});
