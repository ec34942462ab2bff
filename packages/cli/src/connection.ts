import { readFileSync } from "node:fs";
import * as net from "node:net";
import * as tls from "node:tls";
import type { CallOptions, Client, Interceptor, Transport } from "@connectrpc/connect";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { FineGuidanceSensors, parseServerAddress } from "@nsguard/sdk";
import type { Command } from "commander";
import { Option } from "commander";
import { parseGoDuration } from "./duration.js";
import type { CliIo } from "./io.js";
import { collectList, parseCount } from "./list-option.js";
import { resolvePolicyServerAddress, resolveServerAddress } from "./server-address.js";

/** tetra's --max-recv-size default (pkg/defaults DefaultMaxGRPCRecvMsgSize). */
const DEFAULT_MAX_RECV_SIZE = 10 * 1024 * 1024;
/** gRPC A6 retry policy as tetra configures it (cmd/tetra/common/client.go RetryPolicy). */
const RETRY_INITIAL_BACKOFF_MS = 1000;
const RETRY_BACKOFF_MULTIPLIER = 2;

/** tetra's root persistent flags (cmd/tetra/main.go, common/tls.go) as commander sees them. */
export interface ConnectionFlags {
  serverAddress?: string;
  /** Milliseconds; the deadline of one-shot RPCs, retries included. */
  timeout: number;
  retries: number;
  maxRecvSize: number;
  tlsCertFile?: string;
  tlsKeyFile?: string;
  tlsCaCertFiles?: string[];
  tlsServerName?: string;
  tlsSkipVerify?: boolean;
}

/**
 * Adds tetra's connection flags to a client command. tetra has them as persistent flags of
 * its root command; here each client command carries them, because `nsguard agent` has its
 * own --server-address (the listen address) that a root-level flag would swallow.
 */
export function addConnectionOptions(cmd: Command): Command {
  return cmd
    .option(
      "--server-address <address>",
      "gRPC server address (default: the agent's info file, else localhost:54321)",
    )
    .addOption(
      new Option("--timeout <duration>", "Connection timeout (deadline of one-shot RPCs, e.g. 30s, 1m)")
        .argParser(parseGoDuration("--timeout"))
        .default(30_000, "30s"),
    )
    .addOption(
      new Option("--retries <n>", "Connection retries with exponential backoff")
        .argParser(parseCount("--retries"))
        .default(1),
    )
    .addOption(
      new Option("--max-recv-size <bytes>", "Maximum gRPC message size in bytes the client can receive")
        .argParser(parseCount("--max-recv-size"))
        .default(DEFAULT_MAX_RECV_SIZE),
    )
    .option("--tls-cert-file <path>", "Path to client certificate (PEM) for mTLS")
    .option("--tls-key-file <path>", "Path to client private key (PEM) for mTLS")
    .option(
      "--tls-ca-cert-files <paths>",
      "Paths to PEM CA bundles used to verify the server certificate",
      collectList,
    )
    .option("--tls-server-name <name>", "Override SNI / certificate hostname when dialing the server")
    .option("--tls-skip-verify", "Disable server certificate verification (development only)");
}

/** A bad connection flag (a TLS file that cannot be read, conflicting flags), found before dialing. */
export class ConnectionConfigError extends Error {
  override readonly name = "ConnectionConfigError";
}

export interface Connection {
  address: string;
  client: Client<typeof FineGuidanceSensors>;
  /** Call options for one-shot RPCs: tetra's --timeout is their deadline. */
  unary: CallOptions;
  retries: number;
}

/**
 * A client for the agent at the resolved address. `control`: the commands that change policies,
 * which fall back to the agent's unix socket (the only place root may change them without TLS).
 */
export function connect(flags: ConnectionFlags, io: CliIo, options: { control?: boolean } = {}): Connection {
  const address = options.control
    ? resolvePolicyServerAddress(flags.serverAddress, io)
    : resolveServerAddress(flags.serverAddress, io);
  const transport = createTransport(address, flags);
  return {
    address,
    client: createClient(FineGuidanceSensors, transport),
    unary: { timeoutMs: flags.timeout },
    retries: flags.retries,
  };
}

function createTransport(address: string, flags: ConnectionFlags): Transport {
  const secure = tlsOptions(flags);
  const { baseUrl, socketPath } = parseServerAddress(address);
  const common = { readMaxBytes: flags.maxRecvSize, interceptors: [retryUnavailable(flags.retries)] };
  if (secure === undefined) {
    if (socketPath === undefined) return createGrpcTransport({ baseUrl, ...common });
    return createGrpcTransport({
      baseUrl,
      ...common,
      interceptors: [...common.interceptors, missingSocketIsUnavailable],
      nodeOptions: { createConnection: () => net.connect(socketPath) },
    });
  }
  const httpsUrl = baseUrl.replace(/^http:/, "https:");
  if (socketPath === undefined)
    return createGrpcTransport({ baseUrl: httpsUrl, ...common, nodeOptions: secure });
  return createGrpcTransport({
    baseUrl: httpsUrl,
    ...common,
    interceptors: [...common.interceptors, missingSocketIsUnavailable],
    nodeOptions: {
      ...secure,
      createConnection: () => tls.connect({ ...secure, path: socketPath, ALPNProtocols: ["h2"] }),
    },
  });
}

// As in the SDK's transport: connect-node maps a missing socket file (ENOENT) to Internal, but
// it means "no agent is listening" just like ECONNREFUSED, so retries and the error line see
// Unavailable for both. The retry interceptor runs outside this one, so it sees the mapped code.
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

/** Node TLS options from tetra's TLS flags; undefined when none is set (tetra dials plaintext then). */
function tlsOptions(flags: ConnectionFlags): tls.ConnectionOptions | undefined {
  const caFiles = flags.tlsCaCertFiles ?? [];
  const any =
    flags.tlsCertFile !== undefined ||
    flags.tlsKeyFile !== undefined ||
    caFiles.length > 0 ||
    flags.tlsServerName !== undefined ||
    flags.tlsSkipVerify === true;
  if (!any) return undefined;
  // tetra's TLSConfig.Validate wording.
  if ((flags.tlsCertFile === undefined) !== (flags.tlsKeyFile === undefined))
    throw new ConnectionConfigError("--tls-cert-file and --tls-key-file must be set together");
  if (flags.tlsSkipVerify && caFiles.length > 0)
    throw new ConnectionConfigError(
      "--tls-skip-verify makes --tls-ca-cert-files a no-op (verification is skipped); pick one",
    );
  const read = (what: string, path: string) => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new ConnectionConfigError(`reading ${what} ${JSON.stringify(path)}: ${(err as Error).message}`);
    }
  };
  return {
    ...(flags.tlsCertFile !== undefined && flags.tlsKeyFile !== undefined
      ? { cert: read("client cert", flags.tlsCertFile), key: read("client key", flags.tlsKeyFile) }
      : {}),
    // Without CA files the system roots verify the server, as with Go's nil RootCAs.
    ...(caFiles.length > 0 ? { ca: caFiles.map((f) => read("CA bundle", f)) } : {}),
    ...(flags.tlsServerName !== undefined ? { servername: flags.tlsServerName } : {}),
    rejectUnauthorized: flags.tlsSkipVerify !== true,
  };
}

/**
 * tetra's retry policy (gRPC A6 service config): up to `retries` more attempts of a one-shot
 * RPC that failed with Unavailable, after 1 s, 2 s, 4 s… each scaled by a random factor in
 * [0, 1) as gRPC does. The call's deadline (--timeout) bounds all attempts together, because
 * every attempt shares the request's signal. Streams are not retried here: getevents has
 * --reconnect for that.
 */
function retryUnavailable(retries: number): Interceptor {
  return (next) => async (req) => {
    if (req.stream) return next(req);
    for (let attempt = 0; ; attempt++) {
      try {
        return await next(req);
      } catch (err) {
        if (ConnectError.from(err).code !== Code.Unavailable || attempt >= retries) throw err;
        const backoff = RETRY_INITIAL_BACKOFF_MS * RETRY_BACKOFF_MULTIPLIER ** attempt;
        await sleep(Math.random() * backoff, req.signal);
        if (req.signal.aborted) throw err;
      }
    }
  };
}

export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
