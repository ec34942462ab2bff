import { execFile } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { createNsguardClient, TracingPolicyState } from "@nsguard/sdk";
import { afterAll, describe, expect } from "vitest";
import { SimulatedContainer, startHostAnchor } from "../sim/simulated-container.js";
import { EXAMPLES, isRoot, randomContainerId, rootIt, startExampleAgent } from "./root-tier.js";

// The threat model (packages/server/src/access.ts) against a real agent with the seed's deny
// policy: user nobody, through every endpoint the default flags open, cannot add, disable or
// delete a policy; root still can, through the unix socket.
const repo = new URL("../../../../", import.meta.url).pathname;
const nsguard = join(repo, "packages/cli/bin/nsguard.js");
const deny = readFileSync(join(EXAMPLES, "deny-namespace-access.yaml"), "utf8");
const dir = mkdtempSync(join(tmpdir(), "nsguard-access-"));
// Like /var/run: anyone may look inside, so what stops nobody is the agent's own directory and
// socket modes and its credential checks.
chmodSync(dir, 0o755);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Calls, as the user running it, each control RPC on each endpoint in each protocol and prints
 * one line per call: the gRPC status / HTTP status and code, or the connection error. Plain
 * node (no packages to resolve as nobody); gRPC with the JSON codec, so no protobuf is needed.
 */
const CLIENT = `
import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
const [tcpPort, socketPath] = process.argv.slice(2);
const yaml = ${JSON.stringify(deny.replace("deny-namespace-access", "intruder-policy"))};
const calls = [
  ["AddTracingPolicy", { yaml }],
  ["ConfigureTracingPolicy", { name: "deny-namespace-access", domain: "static", enable: false }],
  ["DisableTracingPolicy", { name: "deny-namespace-access", domain: "static" }],
  ["DeleteTracingPolicy", { name: "deny-namespace-access", domain: "static" }],
  ["DeleteTracingPolicy", { name: "deny-namespace-access" }],
];
const endpoints = [
  ["tcp", () => net.connect(Number(tcpPort), "127.0.0.1"), { host: "127.0.0.1", port: Number(tcpPort) }],
  ["unix", () => net.connect(socketPath), { socketPath }],
];
function connectJson(opts, rpc, body) {
  return new Promise((resolve) => {
    const req = http.request({ ...opts, method: "POST", path: "/tetragon.FineGuidanceSensors/" + rpc,
      headers: { "content-type": "application/json" } }, (res) => {
      let b = ""; res.on("data", (d) => (b += d));
      res.on("end", () => resolve(res.statusCode + " " + (JSON.parse(b || "{}").code ?? "ok")));
    });
    req.on("error", (e) => resolve("error " + e.code));
    req.end(JSON.stringify(body));
  });
}
function grpcJson(connect, rpc, body) {
  return new Promise((resolve) => {
    // Connect first, so a refused connection reports its errno rather than a cancelled stream.
    const socket = connect();
    socket.once("error", (e) => resolve("error " + e.code));
    socket.once("connect", () => call(socket, rpc, body, resolve));
  });
}
function call(socket, rpc, body, resolve) {
  {
    const session = http2.connect("http://localhost", { createConnection: () => socket });
    session.on("error", (e) => resolve("error " + e.code));
    const msg = Buffer.from(JSON.stringify(body));
    const frame = Buffer.alloc(5 + msg.length); frame.writeUInt32BE(msg.length, 1); msg.copy(frame, 5);
    const s = session.request({ ":method": "POST", ":path": "/tetragon.FineGuidanceSensors/" + rpc,
      "content-type": "application/grpc+json", te: "trailers" });
    let status;
    s.on("response", (h) => { if (h["grpc-status"] !== undefined) status = h["grpc-status"]; });
    s.on("trailers", (h) => { status = h["grpc-status"]; });
    s.on("error", (e) => resolve("error " + e.code));
    s.on("close", () => { session.close(); resolve("grpc-status " + status); });
    s.resume();
    s.end(frame);
  }
}
for (const [name, connect, opts] of endpoints)
  for (const [rpc, body] of calls) {
    console.log(name, "connect", rpc, await connectJson(opts, rpc, body));
    console.log(name, "grpc", rpc, await grpcJson(connect, rpc, body));
  }
`;

describe.runIf(isRoot || process.env.CI)("access control against a running agent (root tier)", () => {
  rootIt(
    "user nobody cannot add, disable or delete through any default endpoint; root can",
    async () => {
      const runDir = join(dir, "run");
      const socket = join(runDir, "nsguard", "nsguard.sock");
      // Default flags, except an ephemeral port instead of 54321 (other tests run alongside) and
      // the socket under the scratch dir instead of /var/run.
      const agent = await startExampleAgent("deny-namespace-access.yaml", {
        serverAddress: "localhost:0",
        serverSocket: socket,
      });
      const anchor = startHostAnchor();
      const tryEscape = async () => {
        const container = new SimulatedContainer({ id: randomContainerId() });
        return (
          await container
            .run(`nsenter -t ${anchor.pid} -n true; echo rc=$?`)
            .finally(() => container.remove())
        ).stdout;
      };
      const script = join(dir, "nobody-client.mjs");
      writeFileSync(script, CLIENT);
      try {
        const port = agent.server.addresses.tcp?.port ?? 0;
        const { stdout } = await promisify(execFile)(
          "setpriv",
          [
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            process.execPath,
            script,
            String(port),
            socket,
          ],
          { timeout: 30_000 },
        );
        const lines = stdout.trim().split("\n");
        expect(lines).toHaveLength(2 * 2 * 5);
        for (const line of lines) {
          const [endpoint, , rpc, ...outcome] = line.split(" ");
          const result = outcome.join(" ");
          if (endpoint === "tcp") {
            // Refused by type: PermissionDenied (gRPC code 7, Connect's permission_denied / 403).
            expect(result, `${line}`).toMatch(/^(grpc-status 7|403 permission_denied)$/);
          } else {
            // The socket's directory is root-only: nobody cannot even connect.
            expect(result, `${line}`).toMatch(/^error (EACCES|ECONNREFUSED)$/);
          }
          expect(rpc).toMatch(/TracingPolicy$/);
        }

        // As root, through the unix socket (the CLI's path): the deny policy is still there,
        // enabled, alone, and still kills an escape.
        const root = createNsguardClient(`unix://${socket}`);
        const listed = (await root.listTracingPolicies({})).policies;
        expect(listed.map((p) => [p.name, p.state])).toEqual([
          ["deny-namespace-access", TracingPolicyState.TP_STATE_ENABLED],
        ]);
        expect(await tryEscape()).toContain("rc=137");

        // Root's CLI works through the socket: disable, see it disabled, enable again.
        const cli = (...args: string[]) =>
          promisify(execFile)(
            process.execPath,
            [nsguard, "tracingpolicy", ...args, "--server-address", `unix://${socket}`],
            {
              timeout: 30_000,
            },
          );
        await cli("disable", "deny-namespace-access", "--domain", "static");
        const after = (await root.listTracingPolicies({})).policies[0];
        expect(after?.state).toBe(TracingPolicyState.TP_STATE_DISABLED);
        await cli("enable", "deny-namespace-access", "--domain", "static");
        expect((await root.listTracingPolicies({})).policies[0]?.state).toBe(
          TracingPolicyState.TP_STATE_ENABLED,
        );
      } finally {
        anchor.stop();
        await agent.stop();
      }
    },
    120_000,
  );
});
