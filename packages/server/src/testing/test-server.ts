import { mkdtemp, rm } from "node:fs/promises";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ConnectError, Transport } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { peerCredentials } from "@nsguard/native";
import { EventHub } from "../event-hub.js";
import type { ServerDeps } from "../interfaces.js";
import { createFineGuidanceSensorsRoutes } from "../routes.js";
import { type RunningServer, type StartServerOptions, startServer } from "../server.js";

export interface TestServer {
  hub: EventHub;
  server: RunningServer;
  /** TCP base URL (plain TCP may only read). */
  url: string;
  /** Unix socket path (inside a fresh temp dir). */
  socketPath: string;
  /** What the server reported through `onError` (client disconnects must not appear here). */
  errors: { error: ConnectError; rpc: string }[];
  close(): Promise<void>;
}

/**
 * A real server on 127.0.0.1:0 and a unix socket in a temp dir, fed by a real EventHub. The
 * unix socket checks peer credentials for real; besides root, the uid running the tests may
 * control through it, so the policy RPCs can be tested without root.
 */
export async function startTestServer(
  options: {
    queueSize?: number;
    queueBytes?: number;
    deps?: Partial<ServerDeps>;
    adapterOptions?: StartServerOptions["adapterOptions"];
    tls?: StartServerOptions["tls"];
    reflection?: boolean;
  } = {},
): Promise<TestServer> {
  const errors: TestServer["errors"] = [];
  const hub = new EventHub({ queueSize: options.queueSize ?? 10000, queueBytes: options.queueBytes });
  const dir = await mkdtemp(join(tmpdir(), "nsguard-server-test-"));
  const socketPath = join(dir, "run", "nsguard.sock");
  const deps = { events: hub, version: "v0.0.0-test", ...options.deps };
  const server = await startServer({
    routes: createFineGuidanceSensorsRoutes(deps),
    getEvents: { source: deps.events, queueSize: deps.eventQueueSize, queueBytes: deps.eventQueueBytes },
    tcpAddress: "127.0.0.1:0",
    unixSocket: socketPath,
    unixSocketControl: { peerCredentials, uids: [process.getuid?.() ?? 0] },
    tls: options.tls,
    adapterOptions: options.adapterOptions,
    reflection: options.reflection,
    onError: (error, rpc) => errors.push({ error, rpc }),
  });
  return {
    hub,
    server,
    url: server.addresses.tcp?.url ?? "",
    socketPath,
    errors,
    close: async () => {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export type TransportKind = "grpc" | "connect-json" | "connect-proto" | "grpc-web" | "grpc-web-json";

export const transportKinds: readonly TransportKind[] = [
  "grpc",
  "connect-json",
  "connect-proto",
  "grpc-web",
  "grpc-web-json",
];

/**
 * Real connect-node client transports. gRPC goes over h2c (prior knowledge); Connect and
 * gRPC-Web over HTTP/1.1, as browsers and `buf curl --protocol connect` use them, so both
 * sides of the listener's protocol sniffing are exercised. `socketPath` dials a unix socket.
 */
export function transportFor(kind: TransportKind, baseUrl: string, socketPath?: string): Transport {
  const h2Options =
    socketPath === undefined ? {} : { nodeOptions: { createConnection: () => net.connect(socketPath) } };
  const h1Options = socketPath === undefined ? {} : { nodeOptions: { socketPath } };
  switch (kind) {
    case "grpc":
      return createGrpcTransport({ baseUrl, ...h2Options });
    case "connect-json":
      return createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false, ...h1Options });
    case "connect-proto":
      return createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true, ...h1Options });
    case "grpc-web":
      return createGrpcWebTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true, ...h1Options });
    case "grpc-web-json":
      return createGrpcWebTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false, ...h1Options });
  }
}
