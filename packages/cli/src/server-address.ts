import { DEFAULT_SERVER_ADDRESS } from "@nsguard/sdk";
import type { CliIo } from "./io.js";

/** Client commands' default agent address: $NSGUARD_SERVER_ADDRESS, else localhost:54321. */
export function defaultServerAddress(io: CliIo): string {
  const fromEnv = io.env.NSGUARD_SERVER_ADDRESS;
  return fromEnv !== undefined && fromEnv !== "" ? fromEnv : DEFAULT_SERVER_ADDRESS;
}
