import type { Client, Interceptor, Transport } from "@connectrpc/connect";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { FineGuidanceSensors } from "./gen/tetragon/sensors_pb.js";

/** Options of {@link createNsguardWebTransport}. */
export interface NsguardWebTransportOptions {
  /**
   * `"grpc-web"` (the default; what Envoy and other gRPC-Web proxies also speak) or
   * `"connect"` (the Connect protocol; JSON or binary). nsguard's server speaks both directly.
   */
  protocol?: "grpc-web" | "connect";
  /** Binary protobuf (the default) rather than JSON on the wire. */
  useBinaryFormat?: boolean;
  /** Connect interceptors, e.g. to add authentication headers. */
  interceptors?: Interceptor[];
  /** The `fetch` to use; defaults to `globalThis.fetch`. */
  fetch?: typeof globalThis.fetch;
}

/**
 * A browser transport (fetch-based, from `@connectrpc/connect-web`) to an nsguard agent's
 * HTTP/1.1 side. `baseUrl` is a full URL such as `http://localhost:54321`; a page served from
 * another origin needs the server (or a proxy in front of it) to answer CORS for it.
 */
export function createNsguardWebTransport(
  baseUrl: string,
  options: NsguardWebTransportOptions = {},
): Transport {
  const common = {
    baseUrl: baseUrl.replace(/\/+$/, ""),
    useBinaryFormat: options.useBinaryFormat ?? true,
    interceptors: options.interceptors,
    fetch: options.fetch,
  };
  return options.protocol === "connect" ? createConnectTransport(common) : createGrpcWebTransport(common);
}

/** A typed FineGuidanceSensors client for browsers (see {@link createNsguardWebTransport}). */
export function createNsguardWebClient(
  baseUrl: string,
  options: NsguardWebTransportOptions = {},
): Client<typeof FineGuidanceSensors> {
  return createClient(FineGuidanceSensors, createNsguardWebTransport(baseUrl, options));
}
