import { spawn } from "node:child_process";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import * as http from "node:http";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { FineGuidanceSensors, GetEventsRequestSchema, type GetEventsResponse } from "@nsguard/sdk";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { EventHub } from "./event-hub.js";
import { createFineGuidanceSensorsRoutes } from "./routes.js";
import { startServer } from "./server.js";
import { sampleKprobeEvent } from "./testing/events.js";
import { rawGrpcCall } from "./testing/raw-grpc-client.js";
import { transportFor, transportKinds } from "./testing/test-server.js";
import { waitFor } from "./testing/wait-for.js";

const routes = (hub = new EventHub()) => createFineGuidanceSensorsRoutes({ events: hub, version: "v-test" });

/** Writes `chunks` to a fresh connection one at a time and collects what comes back. */
function rawExchange(port: number, chunks: Buffer[]): { received: () => Buffer; socket: net.Socket } {
  const socket = net.connect(port, "127.0.0.1");
  socket.on("error", () => undefined);
  const parts: Buffer[] = [];
  socket.on("data", (d: Buffer) => parts.push(d));
  (async () => {
    for (const c of chunks) {
      socket.write(c);
      // Separate TCP segments, so the sniffer sees the bytes arrive piecemeal.
      await new Promise((r) => setImmediate(r));
    }
  })();
  return { received: () => Buffer.concat(parts), socket };
}

describe("startServer", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "nsguard-listener-test-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("serves h2c and HTTP/1.1 on one TCP port, for every protocol", async () => {
    const server = await startServer({ routes: routes(), tcpAddress: "127.0.0.1:0" });
    try {
      expect(server.addresses.tcp?.host).toBe("127.0.0.1");
      expect(server.addresses.tcp?.url).toBe(`http://127.0.0.1:${server.addresses.tcp?.port}`);
      expect(server.addresses.unix).toBeUndefined();
      for (const kind of transportKinds) {
        const client = createClient(FineGuidanceSensors, transportFor(kind, server.addresses.tcp?.url ?? ""));
        expect((await client.getVersion({})).version).toBe("v-test");
      }
    } finally {
      await server.close();
    }
  });

  it("tells HTTP/2 from HTTP/1.1 even when the first bytes arrive one at a time", async () => {
    const server = await startServer({ routes: routes(), tcpAddress: "127.0.0.1:0" });
    const port = server.addresses.tcp?.port ?? 0;
    try {
      const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
      const emptySettings = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);
      const h2 = rawExchange(
        port,
        [...preface.subarray(0, 5)].map((b) => Buffer.from([b])).concat([preface.subarray(5), emptySettings]),
      );
      // An HTTP/2 server answers with a SETTINGS frame (type 4).
      await waitFor(() => h2.received().length >= 9, "the server's SETTINGS frame");
      expect(h2.received()[3]).toBe(4);
      h2.socket.destroy();

      const request = Buffer.from("GET /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "latin1");
      const h1 = rawExchange(
        port,
        [...request.subarray(0, 4)].map((b) => Buffer.from([b])).concat([request.subarray(4)]),
      );
      await waitFor(() => h1.received().includes("\r\n\r\n"), "the HTTP/1.1 response");
      expect(h1.received().toString("latin1")).toMatch(/^HTTP\/1\.1 404/);
      h1.socket.destroy();
    } finally {
      await server.close();
    }
  });

  it("serves a unix socket: creates its directory 0700, the socket 0600, replaces a stale socket, removes it on close", async () => {
    const path = join(dir, "nested", "run", "nsguard.sock");
    // First run: the directories do not exist yet.
    await startServer({ routes: routes(), unixSocket: path }).then((s) => s.close());
    // Root only: nobody else can even look for the socket.
    expect((await stat(join(dir, "nested"))).mode & 0o777).toBe(0o700);
    expect((await stat(join(dir, "nested", "run"))).mode & 0o777).toBe(0o700);

    // A stale socket file, as left by an agent that was killed: a process that binds and
    // SIGKILLs itself (closing a listener in-process would unlink the file).
    await new Promise<void>((resolve) => {
      const script = `require("net").createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, "SIGKILL"))`;
      spawn(process.execPath, ["-e", script], { stdio: "ignore" }).on("exit", () => resolve());
    });
    expect((await stat(path)).isSocket()).toBe(true);

    const server = await startServer({ routes: routes(), unixSocket: `unix://${path}` });
    try {
      expect(server.addresses).toEqual({ unix: path });
      const info = await stat(path);
      expect(info.isSocket()).toBe(true);
      expect(info.mode & 0o777).toBe(0o600);
      for (const kind of transportKinds) {
        const client = createClient(FineGuidanceSensors, transportFor(kind, "http://localhost", path));
        expect((await client.getVersion({})).version).toBe("v-test");
      }
    } finally {
      await server.close();
    }
    await expect(stat(path)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("does not take over a unix socket another server is listening on", async () => {
    const path = join(dir, "busy.sock");
    const first = await startServer({ routes: routes(), unixSocket: path });
    try {
      await expect(startServer({ routes: routes(), unixSocket: path })).rejects.toMatchObject({
        code: "EADDRINUSE",
      });
      const client = createClient(FineGuidanceSensors, transportFor("grpc", "http://localhost", path));
      expect((await client.getVersion({})).version).toBe("v-test");
    } finally {
      await first.close();
    }
  });

  it("refuses to replace something at the socket path that is not a socket", async () => {
    const path = join(dir, "not-a-socket");
    await writeFile(path, "keep me");
    await expect(startServer({ routes: routes(), unixSocket: path })).rejects.toThrow(/not a socket/);
    expect((await stat(path)).isFile()).toBe(true);
  });

  it("needs at least one listener", async () => {
    await expect(startServer({ routes: routes(), tcpAddress: "", unixSocket: "" })).rejects.toThrow(
      /needs a tcpAddress or a unixSocket/,
    );
  });

  it("reports a port already in use and leaves nothing listening", async () => {
    const first = await startServer({ routes: routes(), tcpAddress: "127.0.0.1:0" });
    try {
      const port = first.addresses.tcp?.port;
      await expect(
        startServer({ routes: routes(), tcpAddress: `127.0.0.1:${port}`, unixSocket: join(dir, "s.sock") }),
      ).rejects.toMatchObject({ code: "EADDRINUSE" });
    } finally {
      await first.close();
    }
  });

  it("closes promptly with open streams of every kind, ending them and their subscriptions", async () => {
    const hub = new EventHub({ queueSize: 8 });
    const path = join(dir, "s.sock");
    const server = await startServer({ routes: routes(hub), tcpAddress: "127.0.0.1:0", unixSocket: path });
    const url = server.addresses.tcp?.url ?? "";
    const outcomes: Promise<unknown>[] = [];
    for (const kind of transportKinds) {
      for (const socketPath of [undefined, path]) {
        const client = createClient(
          FineGuidanceSensors,
          transportFor(kind, socketPath ? "http://localhost" : url, socketPath),
        );
        outcomes.push(
          (async () => {
            const got: GetEventsResponse[] = [];
            for await (const e of client.getEvents({})) got.push(e);
            return got;
          })().catch((e: unknown) => e),
        );
      }
    }
    // A client that never reads: its stream can never finish on its own.
    const stuck = rawGrpcCall(
      { url },
      "/tetragon.FineGuidanceSensors/GetEvents",
      toBinary(GetEventsRequestSchema, create(GetEventsRequestSchema)),
      { read: false },
    );
    // An idle keep-alive HTTP/1.1 connection.
    await new Promise<void>((resolve) => {
      http.get(`${url}/x`, { agent: new http.Agent({ keepAlive: true }) }, (res) =>
        res.resume().on("end", resolve),
      );
    });
    await waitFor(() => hub.subscriberCount === outcomes.length + 1, "every stream to subscribe");
    for (let i = 0; i < 100; i++) hub.publish(sampleKprobeEvent(i, { padding: 2000 }));

    await server.close({ graceMs: 200 });
    expect(hub.subscriberCount).toBe(0);
    for (const outcome of await Promise.all(outcomes)) {
      // Each stream ended, telling the client the server went away.
      expect(ConnectError.from(outcome).code).toBe(Code.Unavailable);
    }
    await stuck.status;
    // Nothing listens any more, and closing twice is fine.
    await expect(
      createClient(FineGuidanceSensors, transportFor("grpc", url)).getVersion({}),
    ).rejects.toSatisfy((e: unknown) => ConnectError.from(e).code === Code.Unavailable);
    await server.close();
  });
});
