import { Code, ConnectError } from "@connectrpc/connect";

/**
 * A caller is not allowed to make this call (access.ts: a control RPC from a caller that may
 * only read). Becomes PermissionDenied.
 */
export class PermissionDeniedError extends Error {
  constructor(message: string) {
    super(message);
    Object.defineProperty(this, "name", {
      value: "PermissionDeniedError",
      enumerable: false,
      configurable: true,
    });
  }
}

/**
 * The one place where domain errors become Connect codes.
 *
 * Policy stores throw the classes below for their own conditions. Other packages throw their
 * own error classes (`PolicyError` from @nsguard/policy, `BpfError` from the native addon); the
 * server never imports them, so they are recognised by their `name` and errno `code`. Messages
 * are never matched: wording is for people. The original error is always kept as `cause`, so
 * logs and interceptors still see the field path, errno and verifier log.
 */
export function toConnectError(reason: unknown): ConnectError {
  if (reason instanceof ConnectError) {
    return reason;
  }
  const message = reason instanceof Error ? reason.message : String(reason);
  return new ConnectError(message, classify(reason), undefined, undefined, reason);
}

/** The Connect code for a thrown value, looking through its `cause` chain. */
export function codeForError(reason: unknown): Code {
  return reason instanceof ConnectError ? reason.code : classify(reason);
}

/** No policy with this name, namespace and domain: NotFound. */
export class PolicyNotFoundError extends Error {
  override readonly name = "PolicyNotFoundError";
}

/** A policy with the same key is already loaded: AlreadyExists (Tetragon's collection refuses it). */
export class PolicyExistsError extends Error {
  override readonly name = "PolicyExistsError";
}

interface ErrorShape {
  name?: unknown;
  code?: unknown;
  errno?: unknown;
  message?: unknown;
  cause?: unknown;
}

const EPERM = 1;
const EACCES = 13;
// A wrapper should not be able to make us loop forever with a cyclic cause chain.
const MAX_CAUSE_DEPTH = 8;

function classify(reason: unknown): Code {
  let current: unknown = reason;
  for (let depth = 0; depth < MAX_CAUSE_DEPTH && isObject(current); depth++) {
    const code = classifyOne(current);
    if (code !== Code.Unknown) {
      return code;
    }
    current = current.cause;
  }
  return Code.Unknown;
}

function classifyOne(e: ErrorShape): Code {
  if (e instanceof ConnectError) {
    return e.code;
  }
  if (e instanceof PermissionDeniedError) {
    return Code.PermissionDenied;
  }
  if (e instanceof PolicyNotFoundError) {
    return Code.NotFound;
  }
  if (e instanceof PolicyExistsError) {
    return Code.AlreadyExists;
  }
  // PolicyError: bad policy YAML (@nsguard/policy); FilterError: bad GetEvents filter (@nsguard/sdk).
  if (e.name === "PolicyError" || e.name === "FilterError") {
    return Code.InvalidArgument;
  }
  // Permission comes before BpfError: a BpfError carrying EPERM (no CAP_BPF) is a permission
  // problem for the caller, not a transient unavailability.
  if (isPermissionErrno(e.code) || isPermissionErrno(e.errno)) {
    return Code.PermissionDenied;
  }
  if (e.code === "ENOENT") {
    return Code.NotFound;
  }
  if (e.name === "BpfError" || e.code === "unavailable") {
    return Code.Unavailable;
  }
  return Code.Unknown;
}

function isPermissionErrno(value: unknown): boolean {
  if (typeof value === "string") {
    return value === "EPERM" || value === "EACCES";
  }
  if (typeof value === "number") {
    // libbpf reports negative errnos; Node system errors positive ones (or negative in `errno`).
    const n = Math.abs(value);
    return n === EPERM || n === EACCES;
  }
  return false;
}

function isObject(value: unknown): value is ErrorShape {
  return typeof value === "object" && value !== null;
}
