import { Code, ConnectError } from "@connectrpc/connect";

/**
 * One human line for a failed RPC. An agent that is not running is the common case and
 * gets its own wording; everything else shows the gRPC code and the server's message
 * (e.g. the FilterError text for InvalidArgument).
 */
export function describeRpcError(err: unknown, address: string): string {
  const ce = ConnectError.from(err);
  const message = ce.rawMessage.replaceAll(/\s*\n\s*/g, " ");
  if (ce.code === Code.Unavailable) return `cannot reach the nsguard agent at ${address}: ${message}`;
  if (ce.code === Code.DeadlineExceeded)
    return `the nsguard agent at ${address} did not answer in time: ${message}`;
  return `${Code[ce.code]}: ${message}`;
}
