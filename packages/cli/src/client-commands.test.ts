import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { toJsonLine } from "@nsguard/sdk";
import { createFineGuidanceSensorsRoutes, EventHub, startServer } from "@nsguard/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "./main.js";
import type { CaptureOptions } from "./testing/capture-io.js";
import { captureIo } from "./testing/capture-io.js";
import { hostExecEvent, setnsEvent } from "./testing/events.js";
import type { TestAgent } from "./testing/test-agent.js";
import { startTestAgent, TEST_AGENT_VERSION } from "./testing/test-agent.js";
import { unusedAddress } from "./testing/unused-address.js";

// Every client command against the real @nsguard/server with the agent's real policy store.

const run = async (args: string[], options: CaptureOptions = {}) => {
  const io = captureIo(options);
  const code = await main(["node", "nsguard", ...args], io);
  return { code, out: io.out(), err: io.err() };
};

const dir = mkdtempSync(join(tmpdir(), "nsguard-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const setnsCompact = "🔧 setns   default/xwing /usr/bin/nsenter ipc";
// tetra's encoder quotes arguments that hold a space (maybeQuote), as every other field.
const hostCompact = '🚀 process node-1 /usr/bin/ip "netns exec blue true"';
const setnsJson =
  '{"process_kprobe":{"process":{"pid":63066,"binary":"/usr/bin/nsenter","arguments":"-t 1 -m -u -n -i -p",' +
  '"pod":{"namespace":"default","name":"xwing"}},"function_name":"__x64_sys_setns",' +
  '"args":[{"int_arg":3},{"int_arg":134217728}],"action":"KPROBE_ACTION_POST","policy_name":"namespace-access"},' +
  '"node_name":"tetragon-dev-control-plane","time":"2026-01-30T18:15:20.001Z"}';
const both = [setnsEvent, hostExecEvent];

let agent: TestAgent;
beforeAll(async () => {
  agent = await startTestAgent();
});
afterAll(() => agent.close());

describe("nsguard getevents", () => {
  it("prints compact lines", async () => {
    const { result } = await agent.stream(
      () => run(["getevents", "-o", "compact", "--server-address", agent.address, "--max-events", "2"]),
      both,
    );
    expect(result).toEqual({ code: 0, out: `${setnsCompact}\n${hostCompact}\n`, err: "" });
  });

  it("prints compact lines with timestamps", async () => {
    const { result } = await agent.stream(
      () =>
        run([
          "getevents",
          "-o",
          "compact",
          "--timestamps",
          "--server-address",
          agent.address,
          "--max-events",
          "2",
        ]),
      both,
    );
    expect(result.out).toBe(
      `2026-01-30T18:15:20.001000000Z ${setnsCompact}\n2026-01-30T18:15:21.500000000Z ${hostCompact}\n`,
    );
  });

  it("prints protojson lines by default", async () => {
    const { result } = await agent.stream(
      () => run(["getevents", "--server-address", agent.address, "--max-events", "1"]),
      both,
    );
    expect(result).toEqual({ code: 0, out: `${setnsJson}\n`, err: "" });
  });

  it("streams over the unix socket", async () => {
    const { result } = await agent.stream(
      () => run(["getevents", "-o", "compact", "--server-address", agent.unixAddress, "--max-events", "1"]),
      both,
    );
    expect(result.out).toBe(`${setnsCompact}\n`);
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
    const { result, passed } = await agent.stream(
      () =>
        run([
          "getevents",
          "-o",
          "compact",
          "--server-address",
          agent.address,
          "--max-events",
          String(lines.length),
          ...flags,
        ]),
      both,
    );
    // The server's filter let exactly these through, and the CLI printed them.
    expect(passed).toBe(lines.length);
    expect(result.code).toBe(0);
    expect(result.out).toBe(lines.map((l) => `${l}\n`).join(""));
  });

  it("sends field filters", async () => {
    const { result } = await agent.stream(
      () =>
        run(["getevents", "--server-address", agent.address, "-f", "process.binary", "--max-events", "1"]),
      both,
    );
    expect(JSON.parse(result.out)).toEqual({
      process_kprobe: { process: { binary: "/usr/bin/nsenter" } },
      node_name: "tetragon-dev-control-plane",
      time: "2026-01-30T18:15:20.001Z",
    });
  });

  it("--color always paints as tetra's Colorer; auto only on a terminal without NO_COLOR", async () => {
    const blue = (s: string) => `\x1b[34m${s}\x1b[0m`;
    const green = (s: string) => `\x1b[32m${s}\x1b[0m`;
    const magenta = (s: string) => `\x1b[35m${s}\x1b[0m`;
    const cyan = (s: string) => `\x1b[36m${s}\x1b[0m`;
    const exec = (io: CaptureOptions, color: string) =>
      agent.stream(
        () =>
          run(
            [
              "getevents",
              "-o",
              "compact",
              "--color",
              color,
              "--server-address",
              agent.address,
              "--max-events",
              "1",
            ],
            io,
          ),
        [hostExecEvent],
      );
    const line = `${blue("🚀 process")} ${green("node-1")} ${magenta("/usr/bin/ip")} ${cyan('"netns exec blue true"')}`;
    // tetra pads to column 120 for the (empty, but painted) capabilities trailer.
    const padded = `${line} ${" ".repeat(120 - Buffer.byteLength(line) - magenta("").length)}${magenta("")}\n`;
    expect((await exec({}, "always")).result.out).toBe(padded);
    expect((await exec({ stdoutIsTerminal: true }, "auto")).result.out).toBe(padded);
    expect((await exec({ stdoutIsTerminal: true, env: { NO_COLOR: "1" } }, "auto")).result.out).toBe(
      `${hostCompact}\n`,
    );
    expect((await exec({}, "auto")).result.out).toBe(`${hostCompact}\n`);
    expect((await exec({ stdoutIsTerminal: true }, "never")).result.out).toBe(`${hostCompact}\n`);
  });

  it("reports a server error in one line and exits 1", async () => {
    const r = await run(["getevents", "--server-address", agent.address, "--processes", "("]);
    expect(r.code).toBe(1);
    expect(r.out).toBe("");
    expect(r.err).toMatch(
      /^nsguard getevents: InvalidArgument: .*binary_regex: invalid regular expression "\(".*\n$/,
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

  it("--reconnect dials again after the agent went away, and keeps streaming", async () => {
    const first = await startTestAgent();
    const port = first.address.split(":")[1];
    const io = captureIo();
    const done = main(
      [
        "node",
        "nsguard",
        "getevents",
        "-o",
        "compact",
        "--server-address",
        first.address,
        "--reconnect",
        "--reconnect-wait",
        "50ms",
        "--max-events",
        "2",
      ],
      io,
    );
    await waitUntil(() => first.hub.stats().subscribers === 1);
    first.hub.publish(setnsEvent);
    await waitUntil(() => io.out() !== "");
    await first.close();
    // A new agent on the same port, as after a restart.
    const hub = new EventHub();
    const second = await startServer({
      routes: createFineGuidanceSensorsRoutes({ events: hub, version: TEST_AGENT_VERSION }),
      getEvents: { source: hub },
      tcpAddress: `127.0.0.1:${port}`,
      onError: () => {},
    });
    try {
      await waitUntil(() => hub.stats().subscribers === 1);
      hub.publish(hostExecEvent);
      expect(await done).toBe(0);
      expect(io.out()).toBe(`${setnsCompact}\n${hostCompact}\n`);
      expect(io.err()).toMatch(/^nsguard getevents: .+; retrying in 50ms\n/);
    } finally {
      await second.close();
    }
  });

  it("reads JSON events from stdin instead of connecting, with the same filters", async () => {
    const stdin = [toJsonLine(setnsEvent), "not an event", toJsonLine(hostExecEvent), ""].join("\n");
    const address = await unusedAddress();
    expect(await run(["getevents", "-o", "compact", "--server-address", address], { stdin })).toEqual({
      code: 0,
      out: `${setnsCompact}\n${hostCompact}\n`,
      err: "",
    });
    expect(await run(["getevents", "-o", "compact", "--host"], { stdin })).toEqual({
      code: 0,
      out: `${hostCompact}\n`,
      err: "",
    });
    const fields = await run(["getevents", "-F", "process", "--namespace", "default"], { stdin });
    expect(JSON.parse(fields.out)).toEqual({
      process_kprobe: {
        function_name: "__x64_sys_setns",
        args: [{ int_arg: 3 }, { int_arg: 134217728 }],
        action: "KPROBE_ACTION_POST",
        policy_name: "namespace-access",
      },
      node_name: "tetragon-dev-control-plane",
      time: "2026-01-30T18:15:20.001Z",
    });
    const bad = await run(["getevents", "--processes", "("], { stdin });
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(
      /^nsguard getevents: InvalidArgument: .*binary_regex: invalid regular expression "\(".*\n$/,
    );
  });

  it("rejects an unknown event type before connecting", async () => {
    const r = await run(["getevents", "--server-address", agent.address, "-e", "PROCESS_FORK"]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^nsguard: unknown event type "PROCESS_FORK" \(known: PROCESS_EXEC, .*\)\n$/);
  });

  it("rejects an unknown output or colour mode as a usage error", async () => {
    expect((await run(["getevents", "-o", "yaml"])).err).toContain("argument 'yaml' is invalid");
    expect((await run(["getevents", "--color", "sometimes"])).err).toContain(
      "argument 'sometimes' is invalid",
    );
  });
});

describe("the server address", () => {
  it("comes from $NSGUARD_SERVER_ADDRESS", async () => {
    const r = await run(["version"], { env: { NSGUARD_SERVER_ADDRESS: agent.address } });
    expect(r.out).toBe(`cli version: 0.1.0\nserver version: ${TEST_AGENT_VERSION}\n`);
  });

  it("comes from the agent's info file (tetra's tetragon-info.json) when no flag names it", async () => {
    const infoFile = join(dir, "nsguard-info.json");
    writeFileSync(infoFile, JSON.stringify({ server_address: agent.unixAddress, pid: 1 }));
    expect((await run(["status"], { infoFile })).out).toBe("Health Status: running\n");
    // The flag wins over the file.
    const down = await unusedAddress();
    const r = await run(["status", "--server-address", down], { infoFile });
    expect(r.err).toMatch(new RegExp(`cannot reach the nsguard agent at ${down}`));
  });

  it("falls back to localhost:54321 without a flag or a readable info file", async () => {
    const infoFile = join(dir, "garbage-info.json");
    writeFileSync(infoFile, "{not json");
    const r = await run(["status", "--timeout", "100ms", "--retries", "0"], { infoFile });
    // Whether or not something listens there on this machine, the address shows where it went.
    if (r.code !== 0) expect(r.err).toMatch(/localhost:54321/);
  });
});

describe("--timeout and --retries (tetra's root flags)", () => {
  it("--timeout is the deadline of a one-shot RPC", async () => {
    // An agent that accepts the connection and never answers (stuck loading a policy).
    const sockets = new Set<net.Socket>();
    const stuck = net.createServer((s) => sockets.add(s));
    await new Promise<void>((resolve) => stuck.listen(0, "127.0.0.1", resolve));
    const address = `127.0.0.1:${(stuck.address() as AddressInfo).port}`;
    try {
      const r = await run(["version", "--server-address", address, "--timeout", "200ms"]);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(
        new RegExp(`^nsguard version: the nsguard agent at ${address} did not answer in time`),
      );
    } finally {
      for (const s of sockets) s.destroy();
      stuck.close();
    }
  });

  it("--timeout takes Go durations", async () => {
    const r = await run(["status", "--timeout", "5"]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("--timeout must be a duration such as 30s, 1m or 500ms");
  });

  it("--retries retries an agent answering Unavailable, and 0 does not", { timeout: 20_000 }, async () => {
    // A gRPC server answering every call UNAVAILABLE (14), as an agent still starting up.
    let calls = 0;
    const starting = trackSessions(
      http2.createServer((_req, res) => {
        calls++;
        res.writeHead(200, {
          "content-type": "application/grpc",
          "grpc-status": "14",
          "grpc-message": "starting",
        });
        res.end();
      }),
    );
    await new Promise<void>((resolve) => starting.listen(0, "127.0.0.1", resolve));
    const address = `127.0.0.1:${(starting.address() as AddressInfo).port}`;
    try {
      expect((await run(["status", "--server-address", address, "--retries", "0"])).code).toBe(1);
      expect(calls).toBe(1);
      calls = 0;
      const r = await run(["status", "--server-address", address, "--retries", "2"]);
      expect(r).toEqual({
        code: 1,
        out: "",
        err: `nsguard status: cannot reach the nsguard agent at ${address}: starting\n`,
      });
      expect(calls).toBe(3);
      // Code other than Unavailable: no retry.
      calls = 0;
      const refused = trackSessions(
        http2.createServer((_req, res) => {
          calls++;
          res.writeHead(200, {
            "content-type": "application/grpc",
            "grpc-status": "7",
            "grpc-message": "no",
          });
          res.end();
        }),
      );
      await new Promise<void>((resolve) => refused.listen(0, "127.0.0.1", resolve));
      const other = `127.0.0.1:${(refused.address() as AddressInfo).port}`;
      expect((await run(["status", "--server-address", other, "--retries", "3"])).err).toBe(
        "nsguard status: PermissionDenied: no\n",
      );
      expect(calls).toBe(1);
      closeNow(refused);
    } finally {
      closeNow(starting);
    }
  });
});

describe("TLS flags (tetra's --tls-*)", () => {
  let tlsDir: string;
  let address: string;
  let server: http2.Http2SecureServer;
  const sessions = new Set<http2.ServerHttp2Session>();
  beforeAll(async () => {
    tlsDir = mkdtempSync(join(tmpdir(), "nsguard-cli-tls-"));
    const ssl = (...args: string[]) => execFileSync("openssl", args, { cwd: tlsDir, stdio: "pipe" });
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    ssl(
      "req",
      "-x509",
      ...ec,
      "-keyout",
      "ca.key",
      "-out",
      "ca.pem",
      "-days",
      "1",
      "-subj",
      "/CN=nsguard-test-ca",
    );
    for (const name of ["server", "client"]) {
      ssl("req", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=nsguard-${name}`);
      writeFileSync(join(tlsDir, `${name}.ext`), `subjectAltName=DNS:nsguard-${name}\n`);
      ssl(
        "x509",
        "-req",
        "-in",
        `${name}.csr`,
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        `${name}.pem`,
        "-days",
        "1",
        "-extfile",
        `${name}.ext`,
      );
    }
    const { readFileSync } = await import("node:fs");
    const file = (f: string) => readFileSync(join(tlsDir, f));
    // The real routes behind a TLS listener that demands a client certificate (mTLS).
    server = http2.createSecureServer(
      {
        key: file("server.key"),
        cert: file("server.pem"),
        ca: file("ca.pem"),
        requestCert: true,
        rejectUnauthorized: true,
      },
      connectNodeAdapter({
        routes: createFineGuidanceSensorsRoutes({ events: new EventHub(), version: TEST_AGENT_VERSION }),
      }),
    );
    // close() waits for open sessions, and clients keep theirs alive.
    server.on("session", (session) => {
      sessions.add(session);
      session.on("close", () => sessions.delete(session));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  }, 60_000);
  afterAll(async () => {
    for (const session of sessions) session.destroy();
    await new Promise((resolve) => server.close(resolve));
    rmSync(tlsDir, { recursive: true, force: true });
  });
  const tlsArgs = () => [
    "--tls-ca-cert-files",
    join(tlsDir, "ca.pem"),
    "--tls-server-name",
    "nsguard-server",
  ];
  const clientCert = () => [
    "--tls-cert-file",
    join(tlsDir, "client.pem"),
    "--tls-key-file",
    join(tlsDir, "client.key"),
  ];

  it("mTLS with the CA, server name and client certificate", async () => {
    const r = await run([
      "version",
      "--server-address",
      address,
      "--retries",
      "0",
      ...tlsArgs(),
      ...clientCert(),
    ]);
    expect(r).toEqual({
      code: 0,
      out: `cli version: 0.1.0\nserver version: ${TEST_AGENT_VERSION}\n`,
      err: "",
    });
  });

  it("fails without a client certificate, with the wrong server name, and in plaintext", async () => {
    for (const args of [
      tlsArgs(),
      ["--tls-ca-cert-files", join(tlsDir, "ca.pem"), "--tls-server-name", "someone-else", ...clientCert()],
      [],
    ]) {
      const r = await run([
        "version",
        "--server-address",
        address,
        "--retries",
        "0",
        "--timeout",
        "5s",
        ...args,
      ]);
      expect(r.code).toBe(1);
    }
  });

  it("refuses conflicting or unreadable TLS flags before dialing", async () => {
    const half = await run([
      "status",
      "--server-address",
      address,
      "--tls-cert-file",
      join(tlsDir, "client.pem"),
    ]);
    expect(half.err).toBe("nsguard status: --tls-cert-file and --tls-key-file must be set together\n");
    const missing = await run([
      "status",
      "--server-address",
      address,
      "--tls-ca-cert-files",
      join(tlsDir, "nope.pem"),
    ]);
    expect(missing.err).toMatch(/^nsguard status: reading CA bundle ".*nope\.pem": ENOENT/);
  });
});

describe("nsguard status and version", () => {
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
      out: `cli version: 0.1.0\nserver version: ${TEST_AGENT_VERSION}\n`,
      err: "",
    });
  });

  it("version still prints the CLI version when the server is down", async () => {
    const address = await unusedAddress();
    const r = await run(["version", "--server-address", address, "--retries", "0"]);
    expect(r.code).toBe(1);
    expect(r.out).toBe("cli version: 0.1.0\n");
    expect(r.err).toBe(
      `nsguard version: cannot reach the nsguard agent at ${address}: connect ECONNREFUSED ${address}\n`,
    );
  });
});

describe("nsguard tracingpolicy", () => {
  const policyYaml = (name: string, extra = "") =>
    [
      "apiVersion: cilium.io/v1alpha1",
      "kind: TracingPolicy",
      "metadata:",
      `  name: "${name}"`,
      "spec:",
      "  kprobes:",
      '  - call: "sys_setns"',
      "    syscall: true",
      extra,
    ].join("\n");
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  // Policy changes go through the unix socket: over plain TCP the agent only serves reads.
  const tp = (...args: string[]) => run(["tp", ...args, "--server-address", agent.unixAddress]);
  // The store loads each version under `<key>#<n>` (a new version attaches before the old detaches).
  const isLoaded = (key: string) => [...agent.loaded].some((k) => k.startsWith(`${key}#`));

  it("over plain TCP a policy change is PermissionDenied, as an untrusted local user would get", async () => {
    const path = file("refused.yaml", policyYaml("refused"));
    const result = await run(["tracingpolicy", "add", path, "--server-address", agent.address]);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/^nsguard tracingpolicy add: PermissionDenied/);
  });

  it("add sends the file's YAML and the agent loads it", async () => {
    const path = file("namespace-access.yaml", policyYaml("namespace-access"));
    expect(await run(["tracingpolicy", "add", path, "--server-address", agent.unixAddress])).toEqual({
      code: 0,
      out: `tracing policy ${JSON.stringify(path)} added\n`,
      err: "",
    });
    expect(isLoaded("grpc//namespace-access")).toBe(true);
  });

  it("add -m sets spec.options' policy-mode, replacing one already there", async () => {
    const plain = file("monitored.yaml", policyYaml("monitored"));
    expect((await tp("add", plain, "-m", "monitor")).code).toBe(0);
    const withOption = file(
      "enforced.yaml",
      policyYaml("enforced", "  options:\n  - name: policy-mode\n    value: monitor\n"),
    );
    expect((await tp("add", withOption, "--mode", "enforce")).code).toBe(0);
    const modes = Object.fromEntries((await agent.policies.list()).map((p) => [p.name, p.mode]));
    expect(modes).toMatchObject({ monitored: 2, enforced: 1 }); // TP_MODE_MONITOR, TP_MODE_ENFORCE
    expect((await tp("add", plain, "-m", "audit")).err).toContain("argument 'audit' is invalid");
  });

  it("add reports a missing file without calling the agent", async () => {
    const r = await tp("add", join(dir, "absent.yaml"));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^nsguard tracingpolicy add: cannot read ".*absent\.yaml": ENOENT.*\n$/);
  });

  it("add reports the agent's rejection of a bad policy as InvalidArgument", async () => {
    const r = await tp("add", file("bad.yaml", "apiVersion: cilium.io/v1alpha1\nkind: Pod\n"));
    expect(r.code).toBe(1);
    expect(r.out).toBe("");
    expect(r.err).toMatch(/^nsguard tracingpolicy add: InvalidArgument: .+\n$/);
  });

  it("add of a policy already loaded is AlreadyExists", async () => {
    const r = await tp("add", file("again.yaml", policyYaml("namespace-access")));
    expect(r.err).toMatch(/^nsguard tracingpolicy add: AlreadyExists: .*already exists\n$/);
  });

  it("list prints tetra's table, and -o json protojson", async () => {
    const r = await tp("list");
    expect(r.code).toBe(0);
    const lines = r.out.trimEnd().split("\n");
    expect(lines[0]).toMatch(
      /^ID\s+NAME\s+STATE\s+FILTERID\s+NAMESPACE\s+SENSORS\s+KERNELMEMORY\s+MODE\s+NPOST\s+NENFORCE\s+NMONITOR$/,
    );
    expect(lines[1]).toMatch(
      /^1\s+namespace-access\s+enabled\s+0\s+\(global\)\s+generic_kprobe\s+0 B\s+enforce\s+0\s+0\s+0$/,
    );
    expect(lines.some((l) => /^\d+\s+monitored\s+enabled\s.*\smonitor\s/.test(l))).toBe(true);
    const json = JSON.parse((await tp("list", "-o", "json")).out);
    expect(json.policies[0]).toMatchObject({ id: "1", name: "namespace-access", state: "TP_STATE_ENABLED" });
  });

  it("disable, enable and set-mode go through ConfigureTracingPolicy", async () => {
    expect((await tp("disable", "namespace-access")).out).toBe(
      'tracing policy "namespace-access" disabled\n',
    );
    expect(isLoaded("grpc//namespace-access")).toBe(false);
    expect((await tp("enable", "namespace-access")).out).toBe('tracing policy "namespace-access" enabled\n');
    expect(isLoaded("grpc//namespace-access")).toBe(true);
    expect((await tp("set-mode", "namespace-access", "monitor")).out).toBe(
      'tracing policy "namespace-access" set to mode "monitor"\n',
    );
    const policy = (await agent.policies.list()).find((p) => p.name === "namespace-access");
    expect(policy?.mode).toBe(2);
  });

  it("delete names the policy; an unknown one is NotFound", async () => {
    expect(await tp("delete", "namespace-access")).toEqual({
      code: 0,
      out: 'tracing policy "namespace-access" deleted\n',
      err: "",
    });
    expect(isLoaded("grpc//namespace-access")).toBe(false);
    const r = await tp("delete", "nope");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^nsguard tracingpolicy delete: NotFound: tracing policy nope not found/);
  });
});

/** Closes an http2 server without waiting for the sessions clients keep alive. */
function closeNow(server: http2.Http2Server): void {
  server.close();
  for (const session of liveSessions.get(server) ?? []) session.destroy();
}
const liveSessions = new WeakMap<http2.Http2Server, Set<http2.ServerHttp2Session>>();
function trackSessions<T extends http2.Http2Server>(server: T): T {
  const sessions = new Set<http2.ServerHttp2Session>();
  liveSessions.set(server, sessions);
  server.on("session", (session) => {
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
  });
  return server;
}

async function waitUntil(condition: () => boolean): Promise<void> {
  // Waits for the other side of a socket; the bound only turns a hang into a failure.
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("gave up waiting");
    await new Promise((r) => setTimeout(r, 2));
  }
}
