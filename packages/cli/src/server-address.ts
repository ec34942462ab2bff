import { accessSync, constants, readFileSync } from "node:fs";
import { DEFAULT_SERVER_ADDRESS } from "@nsguard/sdk";
import type { CliIo } from "./io.js";

/**
 * The agent address for client commands, resolved as tetra's ResolveServerAddress does
 * (cmd/tetra/common/flags.go): the --server-address flag; else $NSGUARD_SERVER_ADDRESS (an
 * nsguard addition); else the `server_address` the running agent wrote into its info file;
 * else localhost:54321. An unreadable or malformed info file falls through to the default,
 * as in tetra (the agent may simply not be running).
 */
export function resolveServerAddress(flag: string | undefined, io: CliIo): string {
  if (flag !== undefined && flag !== "") return flag;
  const fromEnv = io.env.NSGUARD_SERVER_ADDRESS;
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  return serverAddressFromInfoFile(io.infoFile) ?? DEFAULT_SERVER_ADDRESS;
}

function serverAddressFromInfoFile(path: string): string | undefined {
  let info: unknown;
  try {
    info = JSON.parse(readFileSync(path, "utf8"));
  } catch {
    return undefined;
  }
  const address = (info as { server_address?: unknown } | null)?.server_address;
  return typeof address === "string" && address !== "" ? address : undefined;
}

/** Where `nsguard agent` puts its unix socket by default (--server-socket). */
export const DEFAULT_SERVER_SOCKET = "/var/run/nsguard/nsguard.sock";

/**
 * `tracingpolicy` commands' agent address. The agent refuses policy changes over plain TCP (only
 * root or the socket's group may make them, through the unix socket), so when neither the flag,
 * $NSGUARD_SERVER_ADDRESS nor the info file names an address, these commands use the default unix
 * socket if this user may connect to it, and otherwise what the other commands use.
 */
export function resolvePolicyServerAddress(flag: string | undefined, io: CliIo): string {
  const resolved = resolveServerAddress(flag, io);
  if (flag || io.env.NSGUARD_SERVER_ADDRESS || resolved !== DEFAULT_SERVER_ADDRESS) return resolved;
  try {
    // connect() on a unix socket needs write permission on it.
    accessSync(DEFAULT_SERVER_SOCKET, constants.W_OK);
    return `unix://${DEFAULT_SERVER_SOCKET}`;
  } catch {
    return DEFAULT_SERVER_ADDRESS;
  }
}
