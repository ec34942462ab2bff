import { execFile } from "node:child_process";
import { chmod, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { peerCredentials } from "@nsguard/native";
import { FineGuidanceSensors, TracingPolicyState } from "@nsguard/sdk";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { READ_ONLY_RPCS } from "./access.js";
import { EventHub } from "./event-hub.js";
import { createFineGuidanceSensorsRoutes } from "./routes.js";
import { startServer } from "./server.js";
import { MemoryPolicyStore } from "./testing/memory-policy-store.js";
import { startTestServer, type TestServer, transportFor, transportKinds } from "./testing/test-server.js";
import { makeTestPki, type TestPki } from "./testing/tls-certs.js";

const isRoot = process.getuid?.() === 0;
const POLICY = "metadata:\n  name: deny-namespace-access\n";

async function codeOf(call: Promise<unknown>): Promise<Code | "ok"> {
  try {
    await call;
    return "ok";
  } catch (e) {
    return ConnectError.from(e).code;
  }
}

const controlRpcs = FineGuidanceSensors.methods.filter(
  (m) => !READ_ONLY_RPCS.has(`${FineGuidanceSensors.typeName}/${m.name}`),
);

describe("access control", () => {
  let t: TestServer | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it("classifies exactly the policy-changing and other non-read RPCs as control", () => {
    expect(controlRpcs.map((m) => m.name).sort()).toEqual([
      "AddTracingPolicy",
      "ConfigureTracingPolicy",
      "DeleteTracingPolicy",
      "DisableSensor",
      "DisableTracingPolicy",
      "EnableSensor",
      "EnableTracingPolicy",
      "RemoveSensor",
      "RuntimeHook",
      "SetDebug",
    ]);
  });

  for (const kind of transportKinds) {
    it(`plain TCP: every control RPC is PermissionDenied, reads work (${kind})`, async () => {
      const policies = new MemoryPolicyStore();
      await policies.add(POLICY, "static");
      t = await startTestServer({ deps: { policies, enableDeprecatedTracingPolicyGrpc: true } });
      const client = createClient(FineGuidanceSensors, transportFor(kind, t.url));
      const call = client as unknown as Record<string, (req: object) => Promise<unknown>>;
      for (const m of controlRpcs) {
        const err = await call[m.localName]?.({ name: "deny-namespace-access", yaml: POLICY }).catch((e) =>
          ConnectError.from(e),
        );
        expect(err, m.name).toBeInstanceOf(ConnectError);
        expect((err as ConnectError).code, m.name).toBe(Code.PermissionDenied);
        expect((err as ConnectError).rawMessage, m.name).toContain("a plain TCP client");
      }
      expect((await client.getVersion({})).version).toBe("v0.0.0-test");
      expect((await client.getHealth({})).healthStatus).toHaveLength(1);
      const listed = await client.listTracingPolicies({});
      expect(listed.policies.map((p) => [p.name, p.state])).toEqual([
        ["deny-namespace-access", TracingPolicyState.TP_STATE_ENABLED],
      ]);
      // Not one call reached the store except the test's own add and the list.
      expect(policies.calls.map((c) => c[0])).toEqual(["add", "list"]);
    });
  }

  it("plain TCP: GetEvents streams (the hand-written gRPC fast path, too)", async () => {
    t = await startTestServer();
    for (const kind of ["grpc", "connect-json"] as const) {
      const abort = new AbortController();
      const stream = createClient(FineGuidanceSensors, transportFor(kind, t.url)).getEvents(
        {},
        { signal: abort.signal },
      );
      const first = stream[Symbol.asyncIterator]().next();
      const hub = t.hub;
      const before = Date.now();
      while (hub.subscriberCount === 0 && Date.now() - before < 5000)
        await new Promise((r) => setTimeout(r, 10));
      expect(hub.subscriberCount).toBe(1);
      abort.abort();
      await first.catch(() => undefined);
      while (hub.subscriberCount > 0) await new Promise((r) => setTimeout(r, 10));
    }
  });

  it("unix socket: a caller allowed by uid may add, disable and delete", async () => {
    const policies = new MemoryPolicyStore();
    t = await startTestServer({ deps: { policies } });
    const client = createClient(FineGuidanceSensors, transportFor("grpc", "http://localhost", t.socketPath));
    await client.addTracingPolicy({ yaml: POLICY });
    await client.configureTracingPolicy({ name: "deny-namespace-access", enable: false });
    expect(policies.calls.at(-1)).toMatchObject([
      "configure",
      { name: "deny-namespace-access", enable: false },
    ]);
    await client.deleteTracingPolicy({ name: "deny-namespace-access" });
    expect(policies.list()).toEqual([]);
  });

  describe("unix socket with only root allowed", () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), "nsguard-access-"));
    });
    afterAll(() => rm(dir, { recursive: true, force: true }));

    it.runIf(isRoot)("root may control; the caller is identified from SO_PEERCRED", async () => {
      const policies = new MemoryPolicyStore();
      const path = join(dir, "root.sock");
      const server = await startServer({
        routes: createFineGuidanceSensorsRoutes({ events: new EventHub(), version: "v", policies }),
        unixSocket: path,
        unixSocketControl: { peerCredentials },
      });
      try {
        const client = createClient(
          FineGuidanceSensors,
          transportFor("connect-json", "http://localhost", path),
        );
        await client.addTracingPolicy({ yaml: POLICY });
        expect(policies.list()).toHaveLength(1);
      } finally {
        await server.close();
      }
    });

    it("without a way to read peer credentials nobody may control, not even root", async () => {
      const path = join(dir, "unchecked.sock");
      const server = await startServer({
        routes: createFineGuidanceSensorsRoutes({
          events: new EventHub(),
          version: "v",
          policies: new MemoryPolicyStore(),
        }),
        unixSocket: path,
      });
      try {
        const client = createClient(FineGuidanceSensors, transportFor("grpc", "http://localhost", path));
        expect(await codeOf(client.addTracingPolicy({ yaml: POLICY }))).toBe(Code.PermissionDenied);
        expect(await codeOf(client.listTracingPolicies({}))).toBe("ok");
      } finally {
        await server.close();
      }
    });

    // A real unprivileged process: nobody with and without the socket's group.
    it.runIf(isRoot)("user nobody: refused, unless a member of the socket's group", async () => {
      const group = 100; // "users" on Debian
      await chmod(dir, 0o755); // mkdtemp's 0700 would stop nobody before the socket's own checks
      const sockDir = join(dir, "run");
      const path = join(sockDir, "group.sock");
      const policies = new MemoryPolicyStore();
      const server = await startServer({
        routes: createFineGuidanceSensorsRoutes({ events: new EventHub(), version: "v", policies }),
        unixSocket: path,
        unixSocketGroup: group,
        unixSocketControl: { peerCredentials },
      });
      const script = join(dir, "client.mjs");
      // Plain HTTP/1.1 Connect call (no dependencies to resolve as nobody).
      await writeFile(
        script,
        `import * as http from "node:http";
         const req = http.request({ socketPath: ${JSON.stringify(path)}, method: "POST",
           path: "/tetragon.FineGuidanceSensors/AddTracingPolicy", headers: { "content-type": "application/json" } },
           (res) => { let b = ""; res.on("data", (d) => (b += d)); res.on("end", () => console.log(res.statusCode, b)); });
         req.on("error", (e) => console.log("error", e.code));
         req.end(JSON.stringify({ yaml: ${JSON.stringify(POLICY)} }));`,
      );
      const asNobody = (groups: string) =>
        promisify(execFile)("setpriv", [
          "--reuid=nobody",
          "--regid=nogroup",
          ...(groups === "" ? ["--clear-groups"] : [`--groups=${groups}`]),
          process.execPath,
          script,
        ]);
      try {
        const info = await stat(path);
        expect(info.mode & 0o777).toBe(0o660);
        expect(info.gid).toBe(group);
        expect((await stat(sockDir)).mode & 0o777).toBe(0o750);
        expect((await stat(sockDir)).gid).toBe(group);
        // Not in the group: the socket's mode already stops it.
        expect((await asNobody("")).stdout).toMatch(/^error EACCES/);
        expect(policies.list()).toEqual([]);
        // In the group (supplementary, so SO_PEERGROUPS decides): may control.
        expect((await asNobody(String(group))).stdout).toMatch(/^200 /);
        expect(policies.list()).toHaveLength(1);
      } finally {
        await server.close();
      }
    });

    it.runIf(isRoot)(
      "user nobody reaching a world-writable socket is still refused by its credentials",
      async () => {
        await chmod(dir, 0o755);
        const path = join(dir, "open.sock");
        const policies = new MemoryPolicyStore();
        const server = await startServer({
          routes: createFineGuidanceSensorsRoutes({ events: new EventHub(), version: "v", policies }),
          unixSocket: path,
          unixSocketControl: { peerCredentials },
        });
        // Someone loosened the mode: the credentials check is the wall that remains.
        await chmod(path, 0o666);
        const script = join(dir, "open-client.mjs");
        await writeFile(
          script,
          `import * as http from "node:http";
         const req = http.request({ socketPath: ${JSON.stringify(path)}, method: "POST",
           path: "/tetragon.FineGuidanceSensors/AddTracingPolicy", headers: { "content-type": "application/json" } },
           (res) => { let b = ""; res.on("data", (d) => (b += d)); res.on("end", () => console.log(res.statusCode, b)); });
         req.end(JSON.stringify({ yaml: ${JSON.stringify(POLICY)} }));`,
        );
        try {
          const { stdout } = await promisify(execFile)("setpriv", [
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            process.execPath,
            script,
          ]);
          expect(stdout).toMatch(/^403 /);
          expect(JSON.parse(stdout.slice(4))).toMatchObject({ code: "permission_denied" });
          expect(stdout).toContain("uid 65534");
          expect(policies.list()).toEqual([]);
        } finally {
          await server.close();
        }
      },
    );
  });

  describe("TCP with TLS", () => {
    let dir: string;
    let pki: TestPki;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), "nsguard-tls-"));
      pki = makeTestPki(dir);
    });
    afterAll(() => rm(dir, { recursive: true, force: true }));

    const tlsClient = (url: string, kind: "grpc" | "connect", identity?: { cert: string; key: string }) => {
      const nodeOptions = { ca: pki.ca.cert, ...identity };
      const transport =
        kind === "grpc"
          ? createGrpcTransport({ baseUrl: url, nodeOptions })
          : createConnectTransport({ baseUrl: url, httpVersion: "1.1", nodeOptions });
      return createClient(FineGuidanceSensors, transport);
    };

    it("a verified client certificate may control; no certificate or an unknown one may only read", async () => {
      const policies = new MemoryPolicyStore();
      t = await startTestServer({
        deps: { policies },
        tls: { cert: pki.server.cert, key: pki.server.key, clientCa: [pki.ca.cert] },
      });
      const url = t.url.replace("127.0.0.1", "localhost");
      expect(url).toMatch(/^https:/);
      for (const kind of ["grpc", "connect"] as const) {
        const admin = tlsClient(url, kind, pki.client);
        await admin.addTracingPolicy({ yaml: POLICY });
        expect(policies.list()).toHaveLength(1);

        for (const other of [tlsClient(url, kind), tlsClient(url, kind, pki.stranger)]) {
          expect(await codeOf(other.deleteTracingPolicy({ name: "deny-namespace-access" }))).toBe(
            Code.PermissionDenied,
          );
          expect((await other.listTracingPolicies({})).policies).toHaveLength(1);
        }
        await admin.deleteTracingPolicy({ name: "deny-namespace-access" });
        expect(policies.list()).toEqual([]);
      }
    });

    it("with requireClientCert, a client without a verified certificate cannot even read", async () => {
      t = await startTestServer({
        tls: { cert: pki.server.cert, key: pki.server.key, clientCa: [pki.ca.cert], requireClientCert: true },
      });
      const url = t.url.replace("127.0.0.1", "localhost");
      expect((await tlsClient(url, "grpc", pki.client).getVersion({})).version).toBe("v0.0.0-test");
      // The handshake fails (connect-node reports it as Internal or Unavailable).
      expect(await codeOf(tlsClient(url, "grpc").getVersion({}))).not.toBe("ok");
      expect(await codeOf(tlsClient(url, "grpc", pki.stranger).getVersion({}))).not.toBe("ok");
      // Plain text to a TLS port: the handshake fails, nothing is served.
      const plain = createClient(
        FineGuidanceSensors,
        createGrpcTransport({ baseUrl: t.url.replace("https", "http") }),
      );
      expect(await codeOf(plain.getVersion({}))).not.toBe("ok");
    });

    it("refuses requireClientCert without client CAs", async () => {
      await expect(
        startServer({
          routes: createFineGuidanceSensorsRoutes({ events: new EventHub(), version: "v" }),
          tcpAddress: "127.0.0.1:0",
          tls: { cert: pki.server.cert, key: pki.server.key, requireClientCert: true },
        }),
      ).rejects.toThrow(/client CA/);
    });
  });
});
