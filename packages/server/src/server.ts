import { setMaxListeners } from "node:events";
import { chmod, chown, lstat, mkdir, unlink } from "node:fs/promises";
import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import { dirname } from "node:path";
import * as tls from "node:tls";
import { Code, ConnectError, type ConnectRouter, createContextValues } from "@connectrpc/connect";
import type { ConnectNodeAdapterOptions } from "@connectrpc/connect-node";
import {
  accessControlInterceptor,
  type Caller,
  callerKey,
  tcpCaller,
  type UnixSocketControl,
  unixSocketCaller,
} from "./access.js";
import { isGrpcGetEvents, serveGrpcGetEvents } from "./grpc-get-events.js";
import type { EventSource } from "./interfaces.js";
import { parseTcpAddress, parseUnixSocketPath } from "./listen-address.js";
import { createNodeHandler, type RpcErrorReporter } from "./node-handler.js";
import { sniffHttpVersion } from "./protocol-sniff.js";
import { withServerReflection } from "./reflection.js";

/** The unix socket's file mode: root only, or root and `unixSocketGroup`. */
const UNIX_SOCKET_MODE = 0o600;
const UNIX_SOCKET_GROUP_MODE = 0o660;
/** A socket directory we create: root only, or root and the group (which needs search access). */
const UNIX_SOCKET_DIR_MODE = 0o700;
const UNIX_SOCKET_GROUP_DIR_MODE = 0o750;
/** How long `close()` lets streams finish before it destroys what is left. */
export const DEFAULT_CLOSE_GRACE_MS = 1000;
const TCP_KEEPALIVE_MS = 60_000;

export interface StartServerOptions {
  /** Route definitions, e.g. `createFineGuidanceSensorsRoutes(deps)`. */
  routes: (router: ConnectRouter) => void;
  /**
   * "host:port" ("localhost:54321", "127.0.0.1:0", "[::1]:0", ":54321" for every interface);
   * empty or undefined: no TCP listener.
   */
  tcpAddress?: string;
  /** A socket path or "unix:///path"; empty or undefined: no unix socket. */
  unixSocket?: string;
  /**
   * The unix socket's group: the socket file becomes 0660 root:group (default 0600), and the
   * group's members may call control RPCs (see `unixSocketControl`).
   */
  unixSocketGroup?: number;
  /**
   * Who may call control RPCs (policy changes) through the unix socket, checked per connection
   * from its peer credentials: root always, plus `unixSocketGroup`'s members and `uids`.
   * Without `peerCredentials` nobody can (no caller can be identified).
   */
  unixSocketControl?: Omit<UnixSocketControl, "gid">;
  /**
   * TLS on the TCP listener. With `clientCa`, clients may present a certificate; one verified
   * against it may call control RPCs (the only way to control the agent over TCP). With
   * `requireClientCert`, a client without one is refused at the handshake, so even read-only
   * RPCs need a certificate.
   */
  tls?: ServerTlsOptions;
  /**
   * Serve GetEvents over gRPC from this source with batched writes (grpc-get-events.ts) instead
   * of through connect; other protocols and RPCs are unaffected. Pass the same source as the
   * routes' `events`.
   */
  getEvents?: { source: EventSource; queueSize?: number | undefined; queueBytes?: number | undefined };
  /**
   * Serve gRPC server reflection (grpc.reflection.v1 and v1alpha) for the services of `routes`,
   * so `buf curl`, grpcurl and Postman need no copy of the schema. Default true. Reflection
   * only describes the schema, which is public (proto/ and the published SDK carry it).
   */
  reflection?: boolean;
  /** Extra connect-node options (interceptors, limits, …); routes and shutdown are ours. */
  adapterOptions?: Omit<ConnectNodeAdapterOptions, "routes" | "shutdownSignal">;
  /**
   * Reports responses that fail other than by the client going away (a vanished client is
   * silent). Default: console.error.
   */
  onError?: RpcErrorReporter;
}

export interface ServerTlsOptions {
  /** PEM server certificate (chain). */
  cert: string | Buffer;
  /** PEM private key of `cert`. */
  key: string | Buffer;
  /** PEM CA certificates that client certificates are verified against. */
  clientCa?: (string | Buffer)[];
  /** Refuse clients without a verified certificate at the handshake. Needs `clientCa`. */
  requireClientCert?: boolean;
}

export interface ServerAddresses {
  /** The bound TCP address; `url` is ready for a transport's `baseUrl` (https with TLS). */
  readonly tcp?: { readonly host: string; readonly port: number; readonly url: string };
  /** The unix socket path. */
  readonly unix?: string;
}

export interface CloseOptions {
  /**
   * Time for streams to end on their own after shutdown has been signalled; connections
   * still open then are destroyed. Default 1000 ms. A client that stopped reading can keep
   * a stream from ever finishing, which is why there is a bound at all.
   */
  graceMs?: number;
}

export interface RunningServer {
  readonly addresses: ServerAddresses;
  /** Stops listening, ends every stream, removes the unix socket file. Never hangs. */
  close(options?: CloseOptions): Promise<void>;
}

/**
 * Serves `routes` over gRPC, gRPC-Web and Connect on a TCP port and/or a unix socket.
 *
 * Each listener is a plain `net.Server` that sniffs the first bytes of a connection: HTTP/2
 * prior knowledge (h2c — what gRPC clients, Tetragon's `tetra` and
 * `buf curl --http2-prior-knowledge` send) goes to an `http2` server, anything else to an
 * HTTP/1.1 server (Connect, gRPC-Web, browsers, curl). Node's `allowHTTP1` cannot do this: it
 * only works with TLS. Every listener also serves gRPC server reflection (unless
 * `reflection: false`).
 *
 * Access control (access.ts) is part of the listener, because only the connection knows who is
 * calling: every connection gets a {@link Caller} from its peer credentials or TLS client
 * certificate, and control RPCs from callers that may only read are refused with
 * PermissionDenied. Routes mounted on another server integration get none of this.
 */
export async function startServer(options: StartServerOptions): Promise<RunningServer> {
  const tcp = parseTcpAddress(options.tcpAddress);
  const unixPath = parseUnixSocketPath(options.unixSocket);
  if (tcp === undefined && unixPath === undefined) {
    throw new Error("startServer needs a tcpAddress or a unixSocket");
  }
  const tlsOptions = options.tls;
  if (tlsOptions?.requireClientCert && !tlsOptions.clientCa?.length) {
    throw new Error("requiring TLS client certificates needs client CA certificates to verify them");
  }
  const unixControl: UnixSocketControl = { ...options.unixSocketControl, gid: options.unixSocketGroup };

  const shutdown = new AbortController();
  // Every open stream listens for shutdown: as many listeners as streams is expected.
  setMaxListeners(Number.POSITIVE_INFINITY, shutdown.signal);
  const adapterOptions = options.adapterOptions;
  const handler = createNodeHandler({
    ...adapterOptions,
    // First, so nothing else runs for a refused call.
    interceptors: [accessControlInterceptor, ...(adapterOptions?.interceptors ?? [])],
    contextValues: (req) =>
      (adapterOptions?.contextValues?.(req) ?? createContextValues()).set(callerKey, callerOf(req.socket)),
    onError: options.onError,
    // The encode-once shells (encoded-event.ts) are carried as unknown fields; they must
    // be written. This is protobuf-es' default, stated here so nobody turns it off.
    binaryOptions: { ...options.adapterOptions?.binaryOptions, writeUnknownFields: true },
    routes: options.reflection === false ? options.routes : withServerReflection(options.routes),
    shutdownSignal: shutdown.signal,
  });

  const sockets = new Set<net.Socket>();
  const sessions = new Set<http2.ServerHttp2Session>();
  let closing = false;

  const getEvents = options.getEvents;
  const h2 = http2.createServer((req, res) => {
    // GetEvents is read-only (access.ts): this fast path needs no access check.
    if (getEvents && isGrpcGetEvents(req)) {
      void serveGrpcGetEvents(req, res, getEvents.source, shutdown.signal, {
        queueSize: getEvents.queueSize,
        queueBytes: getEvents.queueBytes,
        writeMaxBytes: options.adapterOptions?.writeMaxBytes,
      });
      return;
    }
    handler(req, res);
  });
  h2.on("session", (session) => {
    if (closing) {
      session.destroy();
      return;
    }
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });

  // HTTP/1.1 connections and how many requests each is serving. http.Server only tracks
  // connections (closeIdleConnections) once it is listening itself, which ours never is: the
  // sniffing net.Server listens and hands sockets over.
  const h1Active = new Map<net.Socket, number>();
  const h1 = http.createServer((req, res) => {
    const socket = req.socket;
    h1Active.set(socket, (h1Active.get(socket) ?? 0) + 1);
    if (closing) {
      res.shouldKeepAlive = false;
    }
    res.once("close", () => {
      const left = (h1Active.get(socket) ?? 1) - 1;
      h1Active.set(socket, left);
      // While shutting down, end a keep-alive connection as soon as its last response is
      // done instead of leaving it for the grace timer.
      if (closing && left === 0) {
        socket.end();
      }
    });
    handler(req, res);
  });
  const endIdleHttp1 = () => {
    for (const [socket, active] of h1Active) {
      if (active === 0) {
        socket.end();
      }
    }
  };

  const onConnection = (socket: net.Socket, caller: Caller) => {
    if (closing) {
      socket.destroy();
      return;
    }
    // Read back through req.socket, which for HTTP/2 is a proxy that forwards property reads
    // to this socket.
    Object.defineProperty(socket, CALLER, { value: caller });
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    // A peer resetting the connection must never become an uncaught 'error'; the http
    // servers add their own handlers once they own the socket.
    socket.on("error", () => socket.destroy());
    // Streams write one small frame per event: with Nagle on, each waits for the peer's
    // delayed ACK (~40 ms). http.Server does this for its own sockets; ours come from net.
    socket.setNoDelay(true);
    // Notice peers that vanished without a FIN (a stream that never writes would otherwise
    // hold its subscription forever). No-op on unix sockets.
    socket.setKeepAlive(true, TCP_KEEPALIVE_MS);
    sniffHttpVersion(
      socket,
      (s) => h2.emit("connection", s),
      (s) => {
        h1Active.set(s, 0);
        s.once("close", () => h1Active.delete(s));
        h1.emit("connection", s);
        // The sniffer paused the socket; http's parser takes buffered bytes through 'data'
        // events, which a paused stream does not emit. (http2 reads the buffer itself.)
        s.resume();
      },
    );
  };

  const listeners: net.Server[] = [];
  let addresses: ServerAddresses = {};
  try {
    if (tcp !== undefined) {
      const server =
        tlsOptions === undefined
          ? net.createServer((s) => onConnection(s, tcpCaller(s, false)))
          : createTlsServer(tlsOptions, (s) => onConnection(s, tcpCaller(s, true)));
      listeners.push(server);
      await listen(server, (cb) => server.listen(tcp.port, tcp.host, cb));
      const bound = server.address() as net.AddressInfo;
      const hostForUrl = bound.family === "IPv6" ? `[${bound.address}]` : bound.address;
      const scheme = tlsOptions === undefined ? "http" : "https";
      addresses = {
        ...addresses,
        tcp: { host: bound.address, port: bound.port, url: `${scheme}://${hostForUrl}:${bound.port}` },
      };
    }
    if (unixPath !== undefined) {
      const group = options.unixSocketGroup;
      await prepareUnixSocketPath(unixPath, group);
      const server = net.createServer((s) => onConnection(s, unixSocketCaller(s, unixControl)));
      listeners.push(server);
      // The socket exists with the umask's mode until chmod; connecting needs write access,
      // which the usual umask (022) gives nobody else, a directory we created is root-only, and
      // every connection's credentials are checked anyway.
      await listen(server, (cb) => server.listen(unixPath, cb));
      if (group !== undefined) await chown(unixPath, process.getuid?.() ?? 0, group);
      await chmod(unixPath, group === undefined ? UNIX_SOCKET_MODE : UNIX_SOCKET_GROUP_MODE);
      addresses = { ...addresses, unix: unixPath };
    }
  } catch (e) {
    await Promise.all(listeners.map((l) => closeListener(l)));
    throw e;
  }

  let closed: Promise<void> | undefined;
  const close = (closeOptions: CloseOptions = {}): Promise<void> => {
    closed ??= (async () => {
      closing = true;
      // Ends every handler: GetEvents streams release their hub subscriptions and end with
      // Unavailable, the status gRPC clients expect from a server going away.
      shutdown.abort(new ConnectError("server is shutting down", Code.Unavailable));
      const stopped = Promise.all(listeners.map((l) => closeListener(l)));
      for (const session of sessions) {
        session.close(); // GOAWAY; the session ends when its streams have
      }
      endIdleHttp1();
      await waitUntil(() => sockets.size === 0, sockets, closeOptions.graceMs ?? DEFAULT_CLOSE_GRACE_MS);
      for (const session of sessions) {
        session.destroy();
      }
      for (const socket of sockets) {
        socket.destroy();
      }
      await stopped;
      if (addresses.unix !== undefined) {
        await unlink(addresses.unix).catch(() => undefined);
      }
    })();
    return closed;
  };

  return { addresses, close };
}

const CALLER = Symbol("nsguard.caller");

/** The caller recorded on a request's connection; none recorded may not control anything. */
function callerOf(socket: net.Socket): Caller {
  return (socket as net.Socket & { [CALLER]?: Caller })[CALLER] ?? callerKey.defaultValue;
}

/**
 * A TLS listener handing decrypted sockets on; the protocol sniffing works on them as on plain
 * ones (gRPC clients negotiate "h2" by ALPN and then send the preface).
 */
function createTlsServer(options: ServerTlsOptions, onSecure: (socket: tls.TLSSocket) => void): tls.Server {
  const server = tls.createServer(
    {
      cert: options.cert,
      key: options.key,
      ca: options.clientCa,
      requestCert: (options.clientCa?.length ?? 0) > 0,
      rejectUnauthorized: options.requireClientCert ?? false,
      ALPNProtocols: ["h2", "http/1.1"],
    },
    onSecure,
  );
  // A failed handshake (plain-text client, unknown certificate) concerns that client only.
  server.on("tlsClientError", (_err, socket) => socket.destroy());
  return server;
}

function listen(server: net.Server, start: (cb: () => void) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    start(() => {
      server.off("error", reject);
      resolve();
    });
  });
}

function closeListener(server: net.Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
  });
}

/**
 * Creates the socket's directory (root only, or root and `group`) and removes a stale socket
 * left by a previous run (bind fails with EADDRINUSE otherwise). A directory that already
 * exists is left as it is: it may be shared (/tmp in tests), and the socket's own mode and the
 * credentials check protect the socket. A socket something still answers on is another running
 * server, and a regular file or directory in the way is not ours: both are errors, not
 * things to delete.
 */
async function prepareUnixSocketPath(path: string, group: number | undefined): Promise<void> {
  const dir = dirname(path);
  const created = await mkdir(dir, {
    recursive: true,
    mode: group === undefined ? UNIX_SOCKET_DIR_MODE : UNIX_SOCKET_GROUP_DIR_MODE,
  });
  if (created !== undefined && group !== undefined) {
    // Every directory created on the way needs the group's search access.
    for (let d = dir; d.length >= created.length; d = dirname(d)) {
      await chown(d, process.getuid?.() ?? 0, group);
    }
  }
  const existing = await lstat(path).catch((e: NodeJS.ErrnoException) => {
    if (e.code === "ENOENT") {
      return undefined;
    }
    throw e;
  });
  if (existing === undefined) {
    return;
  }
  if (!existing.isSocket()) {
    throw new Error(`refusing to replace ${path}: it exists and is not a socket`);
  }
  if (await isAnswering(path)) {
    throw Object.assign(new Error(`${path} is in use by another running server`), { code: "EADDRINUSE" });
  }
  await unlink(path);
}

/** Whether a unix socket accepts connections (a stale one refuses them: ECONNREFUSED). */
function isAnswering(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect(path);
    probe.once("connect", () => {
      probe.destroy();
      resolve(true);
    });
    probe.once("error", () => resolve(false));
  });
}

/** Resolves when `done()` holds after a socket closes, or after `ms`, whichever is first. */
function waitUntil(done: () => boolean, sockets: Set<net.Socket>, ms: number): Promise<void> {
  if (done()) {
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    const timer = setTimeout(finish, ms);
    const onClose = () => {
      if (done()) {
        finish();
      }
    };
    for (const socket of sockets) {
      socket.once("close", onClose);
    }
    function finish() {
      clearTimeout(timer);
      for (const socket of sockets) {
        socket.off("close", onClose);
      }
      resolve();
    }
  });
}
