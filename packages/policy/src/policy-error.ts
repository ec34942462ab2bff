// SPDX-License-Identifier: Apache-2.0

/** Where in the policy text a problem is. Line and column are 1-based, like an editor's. */
export interface PolicyErrorOptions {
  /** Field path inside the policy, e.g. `spec.kprobes[0].selectors[0].matchPIDs[0].operator`. */
  path?: string | undefined;
  /** File name (or other label) the YAML came from. */
  source?: string | undefined;
  line?: number | undefined;
  column?: number | undefined;
  cause?: unknown;
}

// A registered symbol rather than `instanceof` alone: two copies of this package in one process (a
// bundled CLI next to a linked workspace copy) still recognise each other's errors.
const brand = Symbol.for("@nsguard/policy/PolicyError");

/**
 * The one error class of the policy boundary: bad YAML, a policy Tetragon would reject, or a field
 * nsguard cannot honour. `message` is always a single line shaped like a compiler diagnostic
 * (`file:line:col: path: detail`) so the CLI and the gRPC status can show it verbatim; the parts are
 * also available separately.
 */
export class PolicyError extends Error {
  override readonly name = "PolicyError";
  /** Field path, or "" when the problem is not about one field (YAML syntax, empty file). */
  readonly path: string;
  readonly source: string | undefined;
  readonly line: number | undefined;
  readonly column: number | undefined;
  /** The reason alone, without location. */
  readonly detail: string;
  readonly [brand] = true;

  constructor(detail: string, options: PolicyErrorOptions = {}) {
    const oneLine = toOneLine(detail);
    super(
      formatPolicyErrorMessage(oneLine, options),
      options.cause === undefined ? {} : { cause: options.cause },
    );
    this.detail = oneLine;
    this.path = options.path ?? "";
    this.source = options.source;
    this.line = options.line;
    this.column = options.column;
  }
}

/** Type guard for {@link PolicyError}, also across duplicated copies of this package. */
export function isPolicyError(value: unknown): value is PolicyError {
  return (
    value instanceof PolicyError ||
    (typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[brand] === true)
  );
}

function formatPolicyErrorMessage(detail: string, options: PolicyErrorOptions): string {
  const where: string[] = [];
  if (options.source) where.push(options.source);
  if (options.line !== undefined) {
    where.push(String(options.line));
    if (options.column !== undefined) where.push(String(options.column));
  }
  const parts: string[] = [];
  if (where.length > 0) parts.push(where.join(":"));
  if (options.path) parts.push(options.path);
  parts.push(detail);
  return parts.join(": ");
}

// Messages end up in log lines and gRPC status strings, where an embedded newline (a YAML value, a
// library message with a code frame) would split one diagnostic into several.
function toOneLine(text: string): string {
  return text.replace(/\r?\n/g, "\\n");
}
