import type * as net from "node:net";
import type { TLSSocket } from "node:tls";
import { createContextKey, type Interceptor } from "@connectrpc/connect";
import { PermissionDeniedError, toConnectError } from "./errors.js";

/*
 * Threat model. Local unprivileged users, and containers sharing the host's network namespace,
 * are untrusted: anything they can reach — `localhost:54321` is reachable by both — must not let
 * them change policies or the agent's configuration. They may read (GetEvents, GetHealth, …) on
 * the TCP listener by default, because Tetragon clients and `tetra` expect that there; this is
 * a real exposure (every event, with every process's arguments, to anyone local) that
 * `--server-address ""` or `--server-tls-require-client-cert` takes away.
 *
 * Who may call the other RPCs (the "control" ones) is decided per connection, from what the
 * kernel or the TLS handshake proves about the peer, never from anything the peer sends:
 * - unix socket: the peer's uid/groups from SO_PEERCRED/SO_PEERGROUPS (root, a configured
 *   group, or configured uids). The socket's file mode (0600, or 0660 with the group) is a
 *   second wall, not the only one.
 * - TCP with TLS: a client certificate verified against the configured client CAs.
 * - plain TCP: never — the port cannot tell a local user, a host-network container and root
 *   apart.
 * Anything not known to be read-only counts as control, so an RPC added later is refused until
 * someone decides otherwise.
 */

/** A unix socket peer as the kernel recorded it at connect() (SO_PEERCRED, SO_PEERGROUPS). */
export interface PeerCredentials {
  readonly pid: number;
  readonly uid: number;
  readonly gid: number;
  /** Supplementary groups. */
  readonly groups: readonly number[];
}

/** Reads a connected unix socket's peer credentials by fd (the native addon's `peerCredentials`). */
export type PeerCredentialsFn = (fd: number) => PeerCredentials;

/** Who is calling, as far as the connection proves it. */
export interface Caller {
  /** May call control RPCs (add, delete, enable, disable, configure policies; …). */
  readonly mayControl: boolean;
  /** For errors and logs: "uid 65534 on the unix socket", "a plain TCP client", … */
  readonly description: string;
  /** Set for unix socket callers whose credentials could be read. */
  readonly credentials?: PeerCredentials;
}

/** Who besides root may control the agent through the unix socket. */
export interface UnixSocketControl {
  /** Reads peer credentials; without it no unix socket caller is identified, so none may control. */
  peerCredentials?: PeerCredentialsFn;
  /** Members of this group (primary or supplementary) may control. */
  gid?: number;
  /** These uids may control. */
  uids?: readonly number[];
}

const UNIDENTIFIED: Caller = { mayControl: false, description: "an unidentified caller" };

/**
 * The caller of the RPC being handled (connect context value). Its default — what a handler
 * sees when nothing set it, e.g. routes mounted on a server other than startServer's — may not
 * control anything.
 */
export const callerKey = createContextKey<Caller>(UNIDENTIFIED, { description: "nsguard caller" });

/**
 * RPCs that only read. Everything else is control. The reflection services (schema only) are
 * listed so ad hoc tools work for everyone on every listener.
 */
export const READ_ONLY_RPCS: ReadonlySet<string> = new Set([
  "tetragon.FineGuidanceSensors/GetEvents",
  "tetragon.FineGuidanceSensors/GetHealth",
  "tetragon.FineGuidanceSensors/ListTracingPolicies",
  "tetragon.FineGuidanceSensors/ListDomains",
  "tetragon.FineGuidanceSensors/ListSensors",
  "tetragon.FineGuidanceSensors/GetVersion",
  "tetragon.FineGuidanceSensors/GetInfo",
  "tetragon.FineGuidanceSensors/GetDebug",
  "grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
  "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
]);

/** Refuses control RPCs from callers that may not control, with PermissionDenied (errors.ts). */
export const accessControlInterceptor: Interceptor = (next) => (req) => {
  const rpc = `${req.service.typeName}/${req.method.name}`;
  if (!READ_ONLY_RPCS.has(rpc)) {
    const caller = req.contextValues.get(callerKey);
    if (!caller.mayControl) {
      throw toConnectError(
        new PermissionDeniedError(
          `${req.method.name} changes the agent and is refused for ${caller.description}: only root ` +
            "(or the configured group) on the unix socket, or a TCP client with a verified TLS " +
            "client certificate, may call it",
        ),
      );
    }
  }
  return next(req);
};

/** A unix socket connection's caller, from its peer credentials. */
export function unixSocketCaller(socket: net.Socket, control: UnixSocketControl): Caller {
  if (control.peerCredentials === undefined) {
    return { mayControl: false, description: "a unix socket caller (peer credentials not checked)" };
  }
  // Node exposes no SO_PEERCRED and no public fd; libuv's pipe handle has it (uv_fileno).
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  if (typeof fd !== "number" || fd < 0) {
    return { mayControl: false, description: "a unix socket caller whose fd is unknown" };
  }
  let credentials: PeerCredentials;
  try {
    credentials = control.peerCredentials(fd);
  } catch {
    return { mayControl: false, description: "a unix socket caller whose credentials are unreadable" };
  }
  const inGroup =
    control.gid !== undefined &&
    (credentials.gid === control.gid || credentials.groups.includes(control.gid));
  return {
    mayControl: credentials.uid === 0 || inGroup || (control.uids?.includes(credentials.uid) ?? false),
    description: `uid ${credentials.uid} (pid ${credentials.pid}) on the unix socket`,
    credentials,
  };
}

/** A TCP connection's caller: only a verified TLS client certificate may control. */
export function tcpCaller(socket: net.Socket, tls: boolean): Caller {
  if (!tls) return { mayControl: false, description: "a plain TCP client" };
  const tlsSocket = socket as TLSSocket;
  if (!tlsSocket.authorized) {
    return { mayControl: false, description: "a TLS client without a verified client certificate" };
  }
  const subject = tlsSocket.getPeerCertificate().subject;
  return { mayControl: true, description: `TLS client ${subject?.CN ?? "(no CN)"}` };
}
