import { accessSync, constants } from "node:fs";
import { DEFAULT_SERVER_ADDRESS } from "@nsguard/sdk";
import type { CliIo } from "./io.js";

/** Client commands' default agent address: $NSGUARD_SERVER_ADDRESS, else localhost:54321. */
export function defaultServerAddress(io: CliIo): string {
  const fromEnv = io.env.NSGUARD_SERVER_ADDRESS;
  return fromEnv !== undefined && fromEnv !== "" ? fromEnv : DEFAULT_SERVER_ADDRESS;
}

/** Where `nsguard agent` puts its unix socket by default (--server-socket). */
export const DEFAULT_SERVER_SOCKET = "/var/run/nsguard/nsguard.sock";

/**
 * `tracingpolicy` commands' default agent address. The agent refuses policy changes over plain
 * TCP (only root or the socket's group may make them, through the unix socket), so these
 * commands use the default unix socket when this user may connect to it — as tetra follows the
 * agent's info file to its socket — and otherwise what the other commands use.
 */
export function defaultPolicyServerAddress(io: CliIo): string {
  const fromEnv = io.env.NSGUARD_SERVER_ADDRESS;
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  try {
    // connect() on a unix socket needs write permission on it.
    accessSync(DEFAULT_SERVER_SOCKET, constants.W_OK);
    return `unix://${DEFAULT_SERVER_SOCKET}`;
  } catch {
    return DEFAULT_SERVER_ADDRESS;
  }
}
