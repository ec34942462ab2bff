import net from "node:net";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { RuntimeService } from "../../gen/runtime/v1/api_pb.js";

/** containerd's CRI socket (also kubelet's default --container-runtime-endpoint for containerd). */
export const DEFAULT_CRI_SOCKET = "/run/containerd/containerd.sock";

/**
 * The socket path of a CRI endpoint as kubelet and crictl write it (`unix:///run/…sock`) or as a
 * bare path. Other schemes (tcp, npipe) are not CRI transports on Linux nodes.
 */
export function criSocketPath(endpoint: string): string {
  if (endpoint.startsWith("unix://")) return endpoint.slice("unix://".length);
  if (endpoint.includes("://"))
    throw new Error(`CRI endpoint ${endpoint}: only unix:// sockets are supported`);
  return endpoint;
}

export interface CriConnection {
  readonly runtime: Client<typeof RuntimeService>;
  /** Closes the HTTP/2 connection (a later call would open a new one). */
  close(): void;
}

/**
 * A CRI RuntimeService client: gRPC over HTTP/2 (h2c) over the runtime's unix socket, which is
 * what CRI runtimes serve. The connection is opened on the first call and again on the next call
 * after it dropped, so a restarted runtime is reconnected to lazily.
 */
export function connectCri(socketPath: string, defaultTimeoutMs = 5000): CriConnection {
  // The authority only fills the :authority pseudo-header; the socket is what is dialled.
  const sessionManager = new Http2SessionManager("http://localhost", undefined, {
    createConnection: () => net.connect(socketPath),
  });
  const transport = createGrpcTransport({
    baseUrl: "http://localhost",
    sessionManager,
    defaultTimeoutMs,
  });
  return {
    runtime: createClient(RuntimeService, transport),
    close: () => sessionManager.abort(),
  };
}
