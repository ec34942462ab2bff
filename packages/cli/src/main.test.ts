import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { TracingPolicyMode, TracingPolicyState, TracingPolicyStatusSchema } from "@nsguard/sdk";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { main } from "./main.js";
import { captureIo } from "./testing/capture-io.js";
import { hostExecEvent, setnsEvent } from "./testing/events.js";
import type { FakeAgent } from "./testing/fake-agent.js";
import { startFakeAgent, unusedAddress } from "./testing/fake-agent.js";

const agentModule = vi.hoisted(() => ({ loads: 0 }));
const runAgent = vi.fn(async () => 7);
vi.mock("@nsguard/agent", () => {
  agentModule.loads++;
  return { runAgent };
});

const run = async (args: string[], env: Record<string, string | undefined> = {}) => {
  const io = captureIo(env);
  const code = await main(["node", "nsguard", ...args], io);
  return { code, out: io.out(), err: io.err() };
};

const setnsCompact = "🔧 setns   default/xwing /usr/bin/nsenter ipc";
const hostCompact = "🚀 process node-1 /usr/bin/ip netns exec blue true";
const setnsJson =
  '{"process_kprobe":{"process":{"pid":63066,"binary":"/usr/bin/nsenter","arguments":"-t 1 -m -u -n -i -p",' +
  '"pod":{"namespace":"default","name":"xwing"}},"function_name":"__x64_sys_setns",' +
  '"args":[{"int_arg":3},{"int_arg":134217728}],"action":"KPROBE_ACTION_POST","policy_name":"namespace-access"},' +
  '"node_name":"tetragon-dev-control-plane","time":"2026-01-30T18:15:20.001Z"}';

describe("nsguard getevents", () => {
  let agent: FakeAgent;
  let holding: FakeAgent;
  beforeAll(async () => {
    agent = await startFakeAgent({ events: [setnsEvent, hostExecEvent] });
    holding = await startFakeAgent({ events: [setnsEvent, hostExecEvent], hold: true });
  });
  afterAll(async () => {
    await agent.close();
    await holding.close();
  });

  it("prints compact lines and exits 0 when the server ends the stream", async () => {
    const r = await run(["getevents", "-o", "compact", "--server-address", agent.address]);
    expect(r).toEqual({ code: 0, out: `${setnsCompact}\n${hostCompact}\n`, err: "" });
  });

  it("prints compact lines with timestamps", async () => {
    const r = await run(["getevents", "-o", "compact", "--timestamps", "--server-address", agent.address]);
    expect(r.out).toBe(
      `2026-01-30T18:15:20.001000000Z ${setnsCompact}\n2026-01-30T18:15:21.500000000Z ${hostCompact}\n`,
    );
  });

  it("prints protojson lines by default", async () => {
    const r = await run(["getevents", "--server-address", agent.address, "--max-events", "1"]);
    expect(r).toEqual({ code: 0, out: `${setnsJson}\n`, err: "" });
  });

  it("takes the address from NSGUARD_SERVER_ADDRESS", async () => {
    const r = await run(["getevents", "-o", "compact"], { NSGUARD_SERVER_ADDRESS: agent.address });
    expect(r.out).toBe(`${setnsCompact}\n${hostCompact}\n`);
  });

  it.each([
    [["--namespace", "default"], [setnsCompact]],
    [["--host"], [hostCompact]],
    [["--pods", "^xw"], [setnsCompact]],
    [
      ["--processes", "/ip$,nsenter"],
      [setnsCompact, hostCompact],
    ],
    [["--policy-names", "namespace-access"], [setnsCompact]],
    [["--event-types", "process_exec"], [hostCompact]],
    [["-n", "kube-system", "--host"], [hostCompact]],
  ])("sends %j as one allow-list Filter", async (flags, lines) => {
    const r = await run(["getevents", "-o", "compact", "--server-address", agent.address, ...flags]);
    expect(r.code).toBe(0);
    expect(r.out).toBe(lines.map((l) => `${l}\n`).join(""));
  });

  it("sends field filters", async () => {
    const r = await run([
      "getevents",
      "--server-address",
      agent.address,
      "-f",
      "process.binary",
      "--max-events",
      "1",
    ]);
    expect(JSON.parse(r.out)).toEqual({
      process_kprobe: { process: { binary: "/usr/bin/nsenter" } },
      node_name: "tetragon-dev-control-plane",
      time: "2026-01-30T18:15:20.001Z",
    });
  });

  it("stops after --max-events on an endless stream", async () => {
    const r = await run([
      "getevents",
      "-o",
      "compact",
      "--server-address",
      holding.address,
      "--max-events",
      "1",
    ]);
    expect(r).toEqual({ code: 0, out: `${setnsCompact}\n`, err: "" });
  });

  it("stops after --timeout on an endless stream", async () => {
    const started = Date.now();
    const r = await run([
      "getevents",
      "-o",
      "compact",
      "--server-address",
      holding.address,
      "--timeout",
      "300",
    ]);
    expect(r).toEqual({ code: 0, out: `${setnsCompact}\n${hostCompact}\n`, err: "" });
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });

  it("reports a server error in one line and exits 1", async () => {
    const r = await run(["getevents", "--server-address", agent.address, "--processes", "("]);
    expect(r.code).toBe(1);
    expect(r.out).toBe("");
    expect(r.err).toMatch(
      /^nsguard getevents: InvalidArgument: binary_regex: invalid regular expression "\(": .+\n$/,
    );
  });

  it("reports an unreachable server in one line and exits 1", async () => {
    const address = await unusedAddress();
    const r = await run(["getevents", "--server-address", address]);
    expect(r.code).toBe(1);
    expect(r.out).toBe("");
    expect(r.err).toBe(
      `nsguard getevents: cannot reach the nsguard agent at ${address}: connect ECONNREFUSED ${address}\n`,
    );
  });

  it("rejects an unknown event type before connecting", async () => {
    const r = await run(["getevents", "--server-address", agent.address, "-e", "PROCESS_FORK"]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^nsguard: unknown event type "PROCESS_FORK" \(known: PROCESS_EXEC, .*\)\n$/);
  });

  it("rejects an unknown output format as a usage error", async () => {
    const r = await run(["getevents", "-o", "yaml"]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("argument 'yaml' is invalid");
  });
});

describe("nsguard status and version", () => {
  let agent: FakeAgent;
  beforeAll(async () => {
    agent = await startFakeAgent({ events: [] });
  });
  afterAll(() => agent.close());

  it("status prints the health details", async () => {
    expect(await run(["status", "--server-address", agent.address])).toEqual({
      code: 0,
      out: "Health Status: running\n",
      err: "",
    });
  });

  it("version prints the CLI and server versions", async () => {
    expect(await run(["version", "--server-address", agent.address])).toEqual({
      code: 0,
      out: "cli version: 0.1.0\nserver version: v9.9.9-test\n",
      err: "",
    });
  });

  it("version still prints the CLI version when the server is down", async () => {
    const address = await unusedAddress();
    const r = await run(["version", "--server-address", address]);
    expect(r.code).toBe(1);
    expect(r.out).toBe("cli version: 0.1.0\n");
    expect(r.err).toBe(
      `nsguard version: cannot reach the nsguard agent at ${address}: connect ECONNREFUSED ${address}\n`,
    );
  });
});

describe("nsguard tracingpolicy", () => {
  let agent: FakeAgent;
  const dir = mkdtempSync(join(tmpdir(), "nsguard-cli-"));
  const policyFile = join(dir, "namespace-access.yaml");
  const policyYaml = [
    "apiVersion: cilium.io/v1alpha1",
    "kind: TracingPolicy",
    "metadata:",
    '  name: "namespace-access"',
    "spec:",
    "  kprobes:",
    '  - call: "sys_setns"',
    "    syscall: true",
    "",
  ].join("\n");
  writeFileSync(policyFile, policyYaml);

  beforeAll(async () => {
    agent = await startFakeAgent({
      events: [],
      policies: [
        create(TracingPolicyStatusSchema, {
          id: 1n,
          name: "namespace-access",
          state: TracingPolicyState.TP_STATE_ENABLED,
          sensors: ["generic_kprobe"],
          kernelMemoryBytes: 2_400_000n,
          mode: TracingPolicyMode.TP_MODE_ENFORCE,
          stats: { actionCounters: { post: 12n } },
        }),
        create(TracingPolicyStatusSchema, {
          id: 2n,
          name: "deny-namespace-access",
          namespace: "team-a",
          filterId: 3n,
          state: TracingPolicyState.TP_STATE_LOAD_ERROR,
          mode: TracingPolicyMode.TP_MODE_MONITOR,
          stats: { actionCounters: { signal: 3n, override: 1n, monitorSignal: 2n, monitorOverride: 5n } },
        }),
      ],
    });
  });
  afterAll(async () => {
    await agent.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("add sends the file's YAML", async () => {
    const r = await run(["tracingpolicy", "add", policyFile, "--server-address", agent.address]);
    expect(r).toEqual({ code: 0, out: `tracing policy ${JSON.stringify(policyFile)} added\n`, err: "" });
    expect(agent.addedYaml).toEqual([policyYaml]);
  });

  it("add reports a missing file without calling the agent", async () => {
    const r = await run(["tp", "add", join(dir, "absent.yaml"), "--server-address", agent.address]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^nsguard tracingpolicy add: cannot read ".*absent\.yaml": ENOENT.*\n$/);
  });

  it("add reports the agent's rejection", async () => {
    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, "kind: Pod\n");
    const r = await run(["tp", "add", bad, "--server-address", agent.address]);
    expect(r).toEqual({
      code: 1,
      out: "",
      err: "nsguard tracingpolicy add: InvalidArgument: not a TracingPolicy\n",
    });
  });

  it("list prints tetra's table", async () => {
    const r = await run(["tp", "list", "--server-address", agent.address]);
    expect(r.code).toBe(0);
    expect(r.out.split("\n")).toEqual([
      "ID   NAME                    STATE        FILTERID   NAMESPACE   SENSORS          KERNELMEMORY   MODE      NPOST   NENFORCE   NMONITOR",
      "1    namespace-access        enabled      0          (global)    generic_kprobe   2.40 MB        enforce   12      0          0",
      "2    deny-namespace-access   load_error   3          team-a                       0 B            monitor   0       4          7",
      "",
    ]);
  });

  it("list -o json prints protojson", async () => {
    const r = await run(["tp", "list", "-o", "json", "--server-address", agent.address]);
    expect(JSON.parse(r.out).policies[0]).toMatchObject({
      id: "1",
      name: "namespace-access",
      state: "TP_STATE_ENABLED",
    });
  });

  it("delete names the policy", async () => {
    expect(await run(["tp", "delete", "namespace-access", "--server-address", agent.address])).toEqual({
      code: 0,
      out: 'tracing policy "namespace-access" deleted\n',
      err: "",
    });
    expect(agent.deleted).toEqual(["namespace-access"]);
  });

  it("delete of an unknown policy fails in one line", async () => {
    const r = await run(["tp", "delete", "nope", "--server-address", agent.address]);
    expect(r).toEqual({
      code: 1,
      out: "",
      err: "nsguard tracingpolicy delete: NotFound: tracing policy nope does not exist\n",
    });
  });
});

describe("nsguard agent", () => {
  // Runs after every client-command test above (files run their tests in order).
  it("was never loaded by the client commands", () => {
    expect(agentModule.loads).toBe(0);
  });

  afterEach(() => runAgent.mockClear());

  it("passes AgentOptions to runAgent and exits with its code", async () => {
    const r = await run([
      "agent",
      "--tracing-policy",
      "a.yaml",
      "--tracing-policy",
      "b.yaml",
      "--server-address",
      "",
      "--node-name",
      "node-7",
      "--event-queue-size",
      "500",
      "--event-queue-bytes",
      "1048576",
      "--export-filename",
      "/var/log/nsguard.log",
      "--log-level",
      "debug",
      "--enable-process-ns",
      "--enable-process-cred",
    ]);
    expect(r.code).toBe(7);
    expect(runAgent).toHaveBeenCalledWith({
      tracingPolicies: ["a.yaml", "b.yaml"],
      serverAddress: "",
      serverSocket: "/var/run/nsguard/nsguard.sock",
      nodeName: "node-7",
      eventQueueSize: 500,
      eventQueueBytes: 1048576,
      exportFilename: "/var/log/nsguard.log",
      logLevel: "debug",
      enableProcessNs: true,
      enableProcessCred: true,
    });
  });

  it("uses tetra-like defaults", async () => {
    await run(["agent"]);
    expect(runAgent).toHaveBeenCalledWith({
      tracingPolicies: [],
      serverAddress: "localhost:54321",
      serverSocket: "/var/run/nsguard/nsguard.sock",
      eventQueueSize: 10000,
      logLevel: "info",
      // podman's own default socket is used when this host has one.
      ...(existsSync("/run/podman/podman.sock") ? { podmanSocket: "/run/podman/podman.sock" } : {}),
      // containerd's socket likewise, where a containerd without the CRI plugin is skipped.
      ...(existsSync("/run/containerd/containerd.sock")
        ? { criEndpoint: "/run/containerd/containerd.sock", criEndpointDiscovered: true }
        : {}),
      enableProcessNs: false,
      enableProcessCred: false,
    });
  });

  it("--cri-endpoint names the CRI endpoint, which must answer; an empty one turns the CRI off", async () => {
    await run(["agent", "--cri-endpoint", "unix:///tmp/c.sock"]);
    expect(runAgent).toHaveBeenLastCalledWith(expect.objectContaining({ criEndpoint: "unix:///tmp/c.sock" }));
    expect(runAgent).toHaveBeenLastCalledWith(
      expect.not.objectContaining({ criEndpointDiscovered: expect.anything() }),
    );
    await run(["agent", "--cri-endpoint", ""]);
    expect(runAgent).toHaveBeenLastCalledWith(
      expect.not.objectContaining({ criEndpoint: expect.anything() }),
    );
  });

  it("--podman-socket names the podman API socket; an empty one turns podman off", async () => {
    await run(["agent", "--podman-socket", "/tmp/p.sock"]);
    expect(runAgent).toHaveBeenLastCalledWith(expect.objectContaining({ podmanSocket: "/tmp/p.sock" }));
    await run(["agent", "--podman-socket", ""]);
    expect(runAgent).toHaveBeenLastCalledWith(
      expect.not.objectContaining({ podmanSocket: expect.anything() }),
    );
  });
});
