// SPDX-License-Identifier: Apache-2.0
/**
 * The one error class of the native boundary. Native code constructs it (the class is handed to
 * the addon at load time, see bindings.ts), so every libbpf / kernel failure is a BpfError with
 * the errno, the operation and — for load failures — the verifier log.
 */

/** The operation that failed. */
export type BpfOp =
  | "open"
  | "load"
  | "attach"
  | "detach"
  | "map_update"
  | "map_lookup"
  | "ringbuf"
  | "getsockopt";

export interface BpfErrorDetails {
  /** errno name, e.g. "EPERM", "ENOENT" (kernel-internal ones too: "ENOTSUPP"). */
  code: string;
  /** Positive errno value. */
  errno: number;
  op: BpfOp;
  /** libbpf + verifier output captured during the failed load (last ~64 KiB). */
  verifierLog?: string;
}

export class BpfError extends Error {
  readonly code: string;
  readonly errno: number;
  readonly op: BpfOp;
  readonly verifierLog?: string;

  constructor(message: string, details: BpfErrorDetails, options?: ErrorOptions) {
    super(message, options);
    // Non-enumerable, like built-in errors, so logging the object shows the useful fields.
    Object.defineProperty(this, "name", { value: "BpfError", enumerable: false, configurable: true });
    this.code = details.code;
    this.errno = details.errno;
    this.op = details.op;
    if (details.verifierLog !== undefined) this.verifierLog = details.verifierLog;
  }
}

/** True for a BpfError, also one from another copy of this package (checked by shape). */
export function isBpfError(value: unknown): value is BpfError {
  if (value instanceof BpfError) return true;
  return (
    value instanceof Error &&
    value.name === "BpfError" &&
    typeof (value as Partial<BpfError>).code === "string" &&
    typeof (value as Partial<BpfError>).errno === "number" &&
    typeof (value as Partial<BpfError>).op === "string"
  );
}
