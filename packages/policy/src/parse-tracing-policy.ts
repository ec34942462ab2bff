// SPDX-License-Identifier: Apache-2.0

import { type Document, isScalar, LineCounter, parseAllDocuments, type YAMLError } from "yaml";
import { PolicyError } from "./policy-error.js";
import { readTracingPolicy } from "./read-tracing-policy.js";
import { rememberPolicySource } from "./source-locations.js";
import type { TracingPolicy } from "./tracing-policy-types.js";
import { YamlReader } from "./yaml-reader.js";

/**
 * Parses one TracingPolicy / TracingPolicyNamespaced document the way Tetragon's `FromYAML` does:
 * strictly (unknown fields and wrong types are errors, at any depth), with the CRD defaults applied
 * and the CRD's enumerations, limits and validation rules checked. Every failure is a
 * {@link PolicyError} naming the field path and, where the YAML has it, the line and column.
 *
 * This accepts what Tetragon accepts; whether nsguard can enforce it is decided by
 * `compileTracingPolicy`.
 *
 * @param source shown in error messages, usually the file name.
 */
export function parseTracingPolicy(text: string, source?: string): TracingPolicy {
  const lineCounter = new LineCounter();
  const documents = parseAllDocuments(text, {
    lineCounter,
    // Tetragon decodes with go-yaml v2, which resolves YAML 1.1 scalars: `yes`/`on` are booleans and
    // `010` is octal there, so 1.1 is the closer match. Merge keys are off: `<<` is an unknown field.
    version: "1.1",
    merge: false,
    // Duplicate keys are found by the reader, which can name the key and its field path.
    uniqueKeys: false,
    prettyErrors: false,
  });

  const syntaxError = documents.flatMap((d) => d.errors)[0];
  if (syntaxError) throw yamlSyntaxError(syntaxError, lineCounter, source);

  // A trailing `---` leaves an empty document behind; only documents with content count.
  const withContent = documents.filter((d) => !isEmptyDocument(d));
  const [document, extra] = withContent;
  if (document === undefined) {
    throw new PolicyError("the file is empty; expected a TracingPolicy document", { source });
  }
  if (extra !== undefined) {
    const at = extra.contents?.range?.[0];
    const position = at === undefined ? undefined : lineCounter.linePos(at);
    throw new PolicyError(
      `found ${withContent.length} YAML documents; a policy file must hold exactly one (put each policy in its own file)`,
      { source, line: position?.line, column: position?.col },
    );
  }

  const reader = new YamlReader(document, lineCounter, source);
  reader.refuseDuplicateKeys();
  const policy = readTracingPolicy(reader, document.contents);
  rememberPolicySource(policy, source, reader.positions);
  return policy;
}

function isEmptyDocument(document: Document): boolean {
  const contents = document.contents;
  if (contents === null || contents === undefined) return true;
  return (
    isScalar(contents) && contents.value === null && (contents.source === "" || contents.source === undefined)
  );
}

function yamlSyntaxError(
  error: YAMLError,
  lineCounter: LineCounter,
  source: string | undefined,
): PolicyError {
  const position = lineCounter.linePos(error.pos[0]);
  // The library appends " at line L, column C:" and a code frame; the position is reported our way.
  const firstLine = error.message.split("\n")[0] ?? error.message;
  const reason = firstLine.replace(/ at line \d+, column \d+:?$/, "");
  return new PolicyError(`invalid YAML: ${reason}`, {
    source,
    line: position.line,
    column: position.col,
    cause: error,
  });
}
