import * as net from "node:net";
import type { Client, Interceptor, Transport } from "@connectrpc/connect";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { FineGuidanceSensors } from "./gen/tetragon/sensors_pb.js";

/** The default agent address, as for Tetragon's agent and tetra. */
export const DEFAULT_SERVER_ADDRESS = "localhost:54321";

/** Where a server address points: an HTTP base URL, plus a socket path for unix sockets. */
export interface ServerEndpoint {
  baseUrl: string;
  socketPath?: string;
}

/**
 * Parses the address forms tetra and Tetragon accept: `host:port`, `:port`, `[::1]:port`,
 * `http(s)://host:port`, and `unix:///path/to.sock` (also `unix:/path` and `unix:relative`).
 */
export function parseServerAddress(address: string): ServerEndpoint {
  const a = address.trim();
  if (a === "") throw new Error("empty server address");
  if (a.startsWith("unix:")) {
    const path = a.slice("unix:".length).replace(/^\/\//, "");
    if (path === "") throw new Error(`invalid unix socket address ${JSON.stringify(address)}`);
    // The authority is only a header value here; the socket decides where bytes go.
    return { baseUrl: "http://localhost", socketPath: path };
  }
  if (/^https?:\/\//.test(a)) return { baseUrl: a.replace(/\/+$/, "") };
  if (a.startsWith(":")) return { baseUrl: `http://localhost${a}` };
  const hasPort = /^\[.*\]:\d+$/.test(a) || /^[^:[\]]+:\d+$/.test(a);
  return { baseUrl: `http://${hasPort ? a : `${a}:54321`}` };
}

/**
 * A gRPC (HTTP/2, h2c) transport to an nsguard or Tetragon agent. gRPC is used rather than
 * the Connect protocol so the same client also talks to a real Tetragon.
 */
export function createNsguardTransport(address: string = DEFAULT_SERVER_ADDRESS): Transport {
  const { baseUrl, socketPath } = parseServerAddress(address);
  if (socketPath === undefined) return createGrpcTransport({ baseUrl });
  return createGrpcTransport({
    baseUrl,
    nodeOptions: { createConnection: () => net.connect(socketPath) },
    interceptors: [missingSocketIsUnavailable],
  });
}

// connect-node maps ECONNREFUSED to Unavailable but a missing socket file (ENOENT) to
// Internal; both mean "no agent is listening", and callers (retry logic, the CLI's error
// line) should see one code for it, as gRPC-Go clients do.
const missingSocketIsUnavailable: Interceptor = (next) => async (req) => {
  try {
    return await next(req);
  } catch (err) {
    const ce = ConnectError.from(err);
    const cause = ce.cause as NodeJS.ErrnoException | undefined;
    if (ce.code === Code.Internal && cause?.code === "ENOENT") {
      throw new ConnectError(ce.rawMessage, Code.Unavailable, ce.metadata, undefined, ce.cause);
    }
    throw err;
  }
};

/** A typed FineGuidanceSensors client for `address` (see parseServerAddress). */
export function createNsguardClient(
  address: string = DEFAULT_SERVER_ADDRESS,
): Client<typeof FineGuidanceSensors> {
  return createClient(FineGuidanceSensors, createNsguardTransport(address));
}
