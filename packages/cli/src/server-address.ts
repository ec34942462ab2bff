import { readFileSync } from "node:fs";
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
