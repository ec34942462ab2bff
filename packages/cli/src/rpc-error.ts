import { Code, ConnectError } from "@connectrpc/connect";
import { FilterError } from "@nsguard/sdk";
import { ConnectionConfigError } from "./connection.js";

/** A problem the CLI finds itself before any RPC (an unreadable policy file, a bad mode); shown as is. */
export class CliUsageError extends Error {
  override readonly name = "CliUsageError";
}

/**
 * One human line for a failed command, chosen by the error's type. The CLI's own errors and
 * a filter refused locally (getevents reading stdin) are shown as they are. An RPC failure
 * shows its gRPC code and the server's message (e.g. the FilterError text for
 * InvalidArgument); an agent that is not running is the common case and gets its own wording.
 */
export function describeError(err: unknown, address: string): string {
  if (err instanceof CliUsageError || err instanceof ConnectionConfigError) return err.message;
  if (err instanceof FilterError) return `${Code[Code.InvalidArgument]}: ${err.message}`;
  const ce = ConnectError.from(err);
  const message = ce.rawMessage.replaceAll(/\s*\n\s*/g, " ");
  if (ce.code === Code.Unavailable) return `cannot reach the nsguard agent at ${address}: ${message}`;
  if (ce.code === Code.DeadlineExceeded)
    return `the nsguard agent at ${address} did not answer in time: ${message}`;
  return `${Code[ce.code]}: ${message}`;
}
