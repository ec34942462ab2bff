// SPDX-License-Identifier: Apache-2.0

// Field paths name a place in a policy the way a reader would point at it:
// `spec.kprobes[0].selectors[0].matchPIDs[0].operator`, `metadata.labels["app.kubernetes.io/name"]`.

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Path of field `key` of the object at `path`. Keys that are not identifiers are bracket-quoted. */
export function fieldPath(path: string, key: string): string {
  if (IDENTIFIER.test(key)) return path === "" ? key : `${path}.${key}`;
  return `${path}[${JSON.stringify(key)}]`;
}

/** Path of item `index` of the list at `path`. */
export function itemPath(path: string, index: number): string {
  return `${path}[${index}]`;
}

const LAST_SEGMENT = /(?:\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\]|\["(?:[^"\\]|\\.)*"\]|^[A-Za-z_][A-Za-z0-9_]*)$/;

/** The enclosing path, or undefined at the root. */
export function parentPath(path: string): string | undefined {
  if (path === "") return undefined;
  const match = LAST_SEGMENT.exec(path);
  if (!match) return "";
  return path.slice(0, match.index);
}
