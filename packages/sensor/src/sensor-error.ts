/**
 * A sensor operation failed: the message is one line a user can act on; `cause` keeps the
 * underlying BpfError (errno, op, verifier log) for logs and the server's error mapping.
 */
export class SensorError extends Error {
  override readonly name = "SensorError";
  constructor(
    message: string,
    readonly code: "unsupported" | "load" | "attach" | "not-found" | "exists",
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isSensorError(err: unknown): err is SensorError {
  return err instanceof SensorError;
}
