import { mkdtempSync, rmSync } from "node:fs";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createNsguardClient, parseServerAddress } from "./client.js";
import { FineGuidanceSensors } from "./gen/tetragon/sensors_pb.js";

describe("parseServerAddress", () => {
  it.each([
    ["localhost:54321", { baseUrl: "http://localhost:54321" }],
    ["127.0.0.1:54321", { baseUrl: "http://127.0.0.1:54321" }],
    ["[::1]:54321", { baseUrl: "http://[::1]:54321" }],
    [":54321", { baseUrl: "http://localhost:54321" }],
    ["agent.local", { baseUrl: "http://agent.local:54321" }],
    ["http://10.0.0.1:54321/", { baseUrl: "http://10.0.0.1:54321" }],
    [
      "unix:///var/run/nsguard/nsguard.sock",
      { baseUrl: "http://localhost", socketPath: "/var/run/nsguard/nsguard.sock" },
    ],
    ["unix:/tmp/a.sock", { baseUrl: "http://localhost", socketPath: "/tmp/a.sock" }],
  ])("%s", (address, expected) => {
    expect(parseServerAddress(address)).toEqual(expected);
  });
  it("rejects empty addresses", () => {
    expect(() => parseServerAddress("")).toThrow();
    expect(() => parseServerAddress("unix://")).toThrow();
  });
});

// A real HTTP/2 server with the generated service, implementing only GetVersion.
function startServer(): http2.Http2Server {
  const server = http2.createServer(
    connectNodeAdapter({
      routes: (router) => router.service(FineGuidanceSensors, { getVersion: () => ({ version: "v-test" }) }),
    }),
  );
  // close() waits for open sessions, and clients keep theirs alive.
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (s) => {
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
  });
  const close = server.close.bind(server);
  server.close = ((cb?: (err?: Error) => void) => {
    for (const s of sessions) s.destroy();
    return close(cb);
  }) as typeof server.close;
  return server;
}

const listen = (server: http2.Http2Server, target: string | number) =>
  new Promise<void>((resolve) =>
    typeof target === "string" ? server.listen(target, resolve) : server.listen(target, "127.0.0.1", resolve),
  );
const close = (server: http2.Http2Server) => new Promise<void>((resolve) => server.close(() => resolve()));

describe("createNsguardClient", () => {
  const dir = mkdtempSync(join(tmpdir(), "nsguard-client-"));
  const socketPath = join(dir, "nsguard.sock");
  const unixServer = startServer();
  const tcpServer = startServer();

  beforeAll(async () => {
    await listen(unixServer, socketPath);
    await listen(tcpServer, 0);
  });
  afterAll(async () => {
    await close(unixServer);
    await close(tcpServer);
    rmSync(dir, { recursive: true, force: true });
  });

  it("talks gRPC over a unix socket", async () => {
    const client = createNsguardClient(`unix://${socketPath}`);
    expect((await client.getVersion({})).version).toBe("v-test");
  });

  it("talks gRPC over TCP given host:port", async () => {
    const { port } = tcpServer.address() as AddressInfo;
    const client = createNsguardClient(`127.0.0.1:${port}`);
    expect((await client.getVersion({})).version).toBe("v-test");
  });

  it("reports unimplemented RPCs with the gRPC code", async () => {
    const client = createNsguardClient(`unix://${socketPath}`);
    const err = await client.getHealth({}).catch((e: unknown) => e);
    expect(ConnectError.from(err).code).toBe(Code.Unimplemented);
  });

  it("fails with Unavailable when nothing listens", async () => {
    const client = createNsguardClient(`unix://${join(dir, "absent.sock")}`);
    const err = await client.getVersion({}).catch((e: unknown) => e);
    expect(ConnectError.from(err).code).toBe(Code.Unavailable);
  });
});
