import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { createNsguardClient, TracingPolicyMode, TracingPolicyState } from "@nsguard/sdk";
import { afterAll, describe, expect } from "vitest";
import { SimulatedContainer, startHostAnchor } from "../sim/simulated-container.js";
import { EXAMPLES, isRoot, randomContainerId, rootIt, startExampleAgent, waitFor } from "./root-tier.js";

// The tracing-policy RPCs against a real agent and kernel: what `nsguard tracingpolicy …` and
// `tetra tracingpolicy …` call.
const deny = readFileSync(join(EXAMPLES, "deny-namespace-access.yaml"), "utf8");
const dir = mkdtempSync(join(tmpdir(), "nsguard-policies-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.runIf(isRoot || process.env.CI)("tracing policies over gRPC (root tier)", () => {
  rootIt("add, list with counters, monitor mode, delete; bad input changes nothing", async () => {
    const socket = join(dir, "nsguard.sock");
    const agent = await startExampleAgent("namespace-access.yaml", { serverSocket: socket });
    const anchor = startHostAnchor();
    // As root through the unix socket: plain TCP may not change policies (access.test.ts).
    const client = createNsguardClient(`unix://${socket}`);
    const tryEscape = async () => {
      const container = new SimulatedContainer({ id: randomContainerId() });
      return (
        await container.run(`nsenter -t ${anchor.pid} -n true; echo rc=$?`).finally(() => container.remove())
      ).stdout;
    };
    const status = async (name: string) =>
      (await client.listTracingPolicies({})).policies.find((p) => p.name === name);
    try {
      await client.addTracingPolicy({ yaml: deny });
      const added = await status("deny-namespace-access");
      expect(added?.state).toBe(TracingPolicyState.TP_STATE_ENABLED);
      expect(added?.domain).toBe("grpc");
      expect((await status("namespace-access"))?.domain).toBe("static");

      expect(await tryEscape()).toContain("rc=137");
      await waitFor(() => agent.observer.stats.syscall >= 2, 5000, "the events of both policies");
      const killed = await status("deny-namespace-access");
      expect(killed?.stats?.actionCounters?.signal).toBe(1n);

      // The same name again is refused; a malformed policy is InvalidArgument; neither changes
      // what is loaded.
      const dup = await client.addTracingPolicy({ yaml: deny }).catch((e) => ConnectError.from(e));
      expect(dup).toBeInstanceOf(ConnectError);
      const bad = await client
        .addTracingPolicy({ yaml: deny.replace('type: "int"', 'type: "inty"') })
        .catch((e) => ConnectError.from(e));
      expect((bad as ConnectError).code).toBe(Code.InvalidArgument);
      expect((bad as ConnectError).rawMessage).toMatch(/spec\.kprobes\[0\]\.args\[0\]\.type/);
      expect((await client.listTracingPolicies({})).policies).toHaveLength(2);

      // Monitor mode: the Sigkill selector only posts, and is counted as a would-be kill.
      await client.configureTracingPolicy({
        name: "deny-namespace-access",
        domain: "grpc",
        mode: TracingPolicyMode.TP_MODE_MONITOR,
      });
      expect(await tryEscape()).toContain("rc=0");
      await waitFor(() => agent.observer.stats.syscall >= 4, 5000, "the monitor-mode events");
      const monitored = await status("deny-namespace-access");
      expect(monitored?.mode).toBe(TracingPolicyMode.TP_MODE_MONITOR);
      expect(monitored?.stats?.actionCounters?.monitorSignal).toBe(1n);

      await client.deleteTracingPolicy({ name: "deny-namespace-access" });
      expect(await status("deny-namespace-access")).toBeUndefined();
      const missing = await client
        .deleteTracingPolicy({ name: "deny-namespace-access" })
        .catch((e) => ConnectError.from(e));
      expect((missing as ConnectError).code).toBe(Code.NotFound);
    } finally {
      anchor.stop();
      await agent.stop();
    }
  });
});
