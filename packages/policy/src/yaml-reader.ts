// SPDX-License-Identifier: Apache-2.0

import {
  type Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  type LineCounter,
  type Node,
  type Scalar,
  type YAMLMap,
} from "yaml";
import { closestMatch } from "./closest-match.js";
import { fieldPath, itemPath } from "./field-path.js";
import { PolicyError } from "./policy-error.js";
import type { SourcePosition } from "./source-locations.js";

// Reading follows what Tetragon's loader does with a policy file: YAML is turned into the Go structs
// strictly (unknown fields fail, a string where a number belongs fails), except that a scalar written
// where a string belongs is taken as a string (sigs.k8s.io/yaml converts `values: [0, 1]` to
// ["0", "1"]). A null value is the same as leaving the field out, as with Go's JSON decoding.

export const UINT32_MAX = 4294967295;
export const INT32_MIN = -2147483648;
export const INT32_MAX = 2147483647;

export interface IntRange {
  min: number;
  max: number;
}

export const UINT32: IntRange = { min: 0, max: UINT32_MAX };
export const INT32: IntRange = { min: INT32_MIN, max: INT32_MAX };
/** int64 fields, limited to what a JS number holds exactly. */
export const SAFE_INT: IntRange = { min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER };

export interface EnumOptions<T extends string> {
  /** Word used in "unknown <what>" messages; defaults to the field name. */
  what?: string;
  /** Match regardless of case (Tetragon lowercases actions and namespace names before lookup). */
  ignoreCase?: boolean;
  /** Extra accepted spellings and the canonical value they stand for. */
  aliases?: Readonly<Record<string, T>>;
}

/** Walks one YAML document, producing typed values and remembering where every field was written. */
export class YamlReader {
  /** Field path → position of the key (for fields) or item (for list entries) that wrote it. */
  readonly positions = new Map<string, SourcePosition>();

  constructor(
    readonly document: Document,
    private readonly lineCounter: LineCounter,
    readonly source: string | undefined,
  ) {}

  position(node: unknown): SourcePosition | undefined {
    const range = (node as { range?: readonly number[] | null } | null | undefined)?.range;
    const offset = range?.[0];
    if (offset === undefined) return undefined;
    const { line, col } = this.lineCounter.linePos(offset);
    return { line, column: col };
  }

  /**
   * Fails on the first key written twice in one mapping, anywhere in the document, naming the key
   * and its field path. The YAML library's own check says only "Map keys must be unique"; this
   * runs before any field is read, as a decoder refuses such a document before validating it.
   */
  refuseDuplicateKeys(): void {
    const walk = (node: unknown, path: string, depth: number): void => {
      // Aliases are not followed: their target is walked where it is written.
      if (depth > 64) return;
      if (isSeq(node)) {
        for (const [i, item] of node.items.entries()) walk(item, itemPath(path, i), depth + 1);
        return;
      }
      if (!isMap(node)) return;
      const seen = new Map<string, SourcePosition | undefined>();
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? pair.key : null;
        const name = key === null ? undefined : keyName(key);
        if (name !== undefined) {
          const childPath = fieldPath(path, name);
          if (seen.has(name)) {
            const first = seen.get(name);
            const where =
              first === undefined ? "" : ` (already set at line ${first.line}, column ${first.column})`;
            this.fail(childPath, `duplicate key ${JSON.stringify(name)}${where}`, pair.key);
          }
          seen.set(name, this.position(pair.key));
          walk(pair.value, childPath, depth + 1);
        } else {
          walk(pair.value, path, depth + 1);
        }
      }
    };
    walk(this.document.contents, "", 0);
  }

  /** Throws a PolicyError at `path`, located at `node` (or at the field's recorded position). */
  fail(path: string, detail: string, node?: unknown): never {
    const position = this.position(node) ?? this.positions.get(path);
    throw new PolicyError(detail, {
      path,
      source: this.source,
      line: position?.line,
      column: position?.column,
    });
  }

  /** Follows aliases; returns null for a missing node or an explicit null. */
  resolve(node: unknown): Node | null {
    let current = node;
    for (let hops = 0; isAlias(current); hops++) {
      if (hops > 64) return null;
      current = current.resolve(this.document);
    }
    if (current === null || current === undefined) return null;
    if (isScalar(current) && current.value === null) return null;
    return current as Node;
  }

  record(path: string, node: unknown): void {
    const position = this.position(node);
    if (position) this.positions.set(path, position);
  }

  describe(node: Node | null): string {
    if (node === null) return "null";
    if (isMap(node)) return "an object";
    if (isSeq(node)) return "a list";
    if (isScalar(node)) {
      const value = node.value;
      if (typeof value === "string") return JSON.stringify(value);
      return String(scalarSource(node) ?? value);
    }
    return "an unsupported YAML node";
  }

  map(node: unknown, path: string): MapView {
    const resolved = this.resolve(node);
    if (!isMap(resolved))
      this.fail(path, `expected an object, got ${this.describe(resolved)}`, resolved ?? node);
    return new MapView(this, resolved, path);
  }

  list<T>(node: unknown, path: string, readItem: (item: Node | null, path: string) => T): T[] {
    const resolved = this.resolve(node);
    if (!isSeq(resolved))
      this.fail(path, `expected a list, got ${this.describe(resolved)}`, resolved ?? node);
    return resolved.items.map((item, i) => {
      const p = itemPath(path, i);
      this.record(p, item);
      return readItem(this.resolve(item), p);
    });
  }

  string(node: Node | null, path: string): string {
    if (isScalar(node)) {
      const value = node.value;
      if (typeof value === "string") return value;
      // Go formats the decoded number or boolean; a date or a sexagesimal number (YAML 1.1 only, which
      // Go's decoder never produced) keeps its text.
      if (typeof value === "boolean") return String(value);
      if (typeof value === "number" && Number.isInteger(value) && !String(scalarSource(node)).includes(":")) {
        return String(value);
      }
      const source = scalarSource(node);
      if (source !== undefined) return source;
      return String(value);
    }
    this.fail(path, `expected a string, got ${this.describe(node)}`, node);
  }

  bool(node: Node | null, path: string): boolean {
    if (isScalar(node) && typeof node.value === "boolean") return node.value;
    this.fail(path, `expected a boolean (true or false), got ${this.describe(node)}`, node);
  }

  int(node: Node | null, path: string, range: IntRange): number {
    if (isScalar(node) && typeof node.value === "number") {
      const value = node.value;
      const source = String(scalarSource(node) ?? "");
      if (!Number.isInteger(value) || source.includes(":")) {
        this.fail(path, `expected an integer, got ${this.describe(node)}`, node);
      }
      if (value < range.min || value > range.max) {
        this.fail(path, `${value} is out of range (${range.min}..${range.max})`, node);
      }
      return value;
    }
    this.fail(path, `expected an integer, got ${this.describe(node)}`, node);
  }

  enumValue<T extends string>(
    node: Node | null,
    path: string,
    values: readonly T[],
    options: EnumOptions<T> = {},
  ): T {
    const text = this.string(node, path);
    const exact = values.find((v) => v === text);
    if (exact !== undefined) return exact;
    const alias = options.aliases?.[text];
    if (alias !== undefined) return alias;
    if (options.ignoreCase) {
      const lower = text.toLowerCase();
      const folded = values.find((v) => v.toLowerCase() === lower);
      if (folded !== undefined) return folded;
    }
    const what = options.what ?? lastKey(path);
    const guess = closestMatch(text, [...values, ...Object.keys(options.aliases ?? {})]);
    const hint = guess === undefined ? "" : ` (did you mean "${options.aliases?.[guess] ?? guess}"?)`;
    this.fail(
      path,
      `unknown ${what} ${JSON.stringify(text)}${hint}; expected one of ${values.join(", ")}`,
      node,
    );
  }
}

/** One YAML mapping being read as an object with known fields. */
export class MapView {
  private readonly entries = new Map<string, { key: Node; value: unknown }>();

  constructor(
    readonly reader: YamlReader,
    readonly node: YAMLMap,
    readonly path: string,
  ) {
    for (const pair of node.items) {
      const key = reader.resolve(pair.key);
      if (!isScalar(key)) {
        reader.fail(path, `object keys must be plain strings, got ${reader.describe(key)}`, pair.key);
      }
      const name = keyName(key);
      this.entries.set(name, { key, value: pair.value });
      reader.record(fieldPath(path, name), key);
    }
  }

  /** Fails on the first field not in `known`, the way a strict decoder does. */
  allow(known: readonly string[]): this {
    for (const [name, { key }] of this.entries) {
      if (known.includes(name)) continue;
      const guess = closestMatch(name, known);
      const hint = guess === undefined ? "" : ` (did you mean "${guess}"?)`;
      this.reader.fail(fieldPath(this.path, name), `unknown field ${JSON.stringify(name)}${hint}`, key);
    }
    return this;
  }

  keys(): string[] {
    return [...this.entries.keys()];
  }

  child(name: string): string {
    return fieldPath(this.path, name);
  }

  /** The value node, or null when the field is absent or null. */
  value(name: string): Node | null {
    const entry = this.entries.get(name);
    return entry === undefined ? null : this.reader.resolve(entry.value);
  }

  has(name: string): boolean {
    return this.value(name) !== null;
  }

  missing(name: string): never {
    this.reader.fail(this.child(name), "required field is missing", this.node);
  }

  string(name: string): string | undefined {
    const node = this.value(name);
    return node === null ? undefined : this.reader.string(node, this.child(name));
  }

  requiredString(name: string): string {
    return this.string(name) ?? this.missing(name);
  }

  bool(name: string): boolean | undefined {
    const node = this.value(name);
    return node === null ? undefined : this.reader.bool(node, this.child(name));
  }

  int(name: string, range: IntRange): number | undefined {
    const node = this.value(name);
    return node === null ? undefined : this.reader.int(node, this.child(name), range);
  }

  enumValue<T extends string>(
    name: string,
    values: readonly T[],
    options: EnumOptions<T> = {},
  ): T | undefined {
    const node = this.value(name);
    return node === null ? undefined : this.reader.enumValue(node, this.child(name), values, options);
  }

  list<T>(
    name: string,
    readItem: (item: Node | null, path: string) => T,
    maxItems?: number,
  ): T[] | undefined {
    const node = this.value(name);
    if (node === null) return undefined;
    const items = this.reader.list(node, this.child(name), readItem);
    if (maxItems !== undefined && items.length > maxItems) {
      this.reader.fail(this.child(name), `has ${items.length} entries, at most ${maxItems} allowed`, node);
    }
    return items;
  }

  stringList(name: string): string[] | undefined {
    return this.list(name, (item, p) => this.reader.string(item, p));
  }

  intList(name: string, range: IntRange): number[] | undefined {
    return this.list(name, (item, p) => this.reader.int(item, p, range));
  }

  object<T>(name: string, read: (view: MapView) => T): T | undefined {
    const node = this.value(name);
    return node === null ? undefined : read(this.reader.map(node, this.child(name)));
  }

  /** A map with free-form keys, e.g. labels or selectorsMacros. */
  mapOf<T>(name: string, readValue: (item: Node | null, path: string) => T): Record<string, T> | undefined {
    const node = this.value(name);
    if (node === null) return undefined;
    const view = this.reader.map(node, this.child(name));
    const out: Record<string, T> = {};
    for (const key of view.keys()) out[key] = readValue(view.value(key), view.child(key));
    return out;
  }
}

/** A mapping key as a field name: its text for non-string scalars (`1: x` is key "1"). */
function keyName(key: Scalar): string {
  return typeof key.value === "string" ? key.value : String(scalarSource(key) ?? key.value);
}

function scalarSource(node: Node): string | undefined {
  const source = (node as { source?: unknown }).source;
  return typeof source === "string" ? source : undefined;
}

function lastKey(path: string): string {
  const match = /([A-Za-z_][A-Za-z0-9_]*)(?:\[\d+\])*$/.exec(path);
  return match?.[1] ?? "value";
}
