// SPDX-License-Identifier: Apache-2.0

import { parentPath } from "./field-path.js";
import { PolicyError } from "./policy-error.js";

export interface SourcePosition {
  line: number;
  column: number;
}

interface PolicySource {
  source: string | undefined;
  positions: ReadonlyMap<string, SourcePosition>;
}

// The compiler works on the typed policy, which has no YAML nodes left. Remembering where each field
// came from beside the object (not inside it, so policies still compare and serialise as plain data)
// lets compile-time refusals point at a line and column too.
const sources = new WeakMap<object, PolicySource>();

/** Records where the fields of a parsed policy came from. */
export function rememberPolicySource(
  policy: object,
  source: string | undefined,
  positions: ReadonlyMap<string, SourcePosition>,
): void {
  sources.set(policy, { source, positions });
}

/**
 * A PolicyError at `path` of `policy`, located at that field or, when the field was not written
 * (a default, a list expansion), at the nearest enclosing field that was.
 */
export function policyErrorAt(policy: object, path: string, detail: string): PolicyError {
  const known = sources.get(policy);
  if (!known) return new PolicyError(detail, { path });
  let at: string | undefined = path;
  while (at !== undefined) {
    const position = known.positions.get(at);
    if (position) {
      return new PolicyError(detail, {
        path,
        source: known.source,
        line: position.line,
        column: position.column,
      });
    }
    at = parentPath(at);
  }
  return new PolicyError(detail, { path, source: known.source });
}
