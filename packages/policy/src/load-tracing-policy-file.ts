// SPDX-License-Identifier: Apache-2.0

import { readFile } from "node:fs/promises";
import { type CompileOptions, compileTracingPolicy } from "./compile-tracing-policy.js";
import type { CompiledPolicy } from "./compiled-policy-types.js";
import { parseTracingPolicy } from "./parse-tracing-policy.js";
import { PolicyError } from "./policy-error.js";
import type { TracingPolicy } from "./tracing-policy-types.js";

export interface LoadedPolicyFile {
  policy: TracingPolicy;
  compiled: CompiledPolicy;
}

const READ_FAILURES: Readonly<Record<string, string>> = {
  ENOENT: "no such file",
  EACCES: "permission denied",
  EPERM: "permission denied",
  EISDIR: "it is a directory",
  ENOTDIR: "a parent of it is not a directory",
};

/**
 * Reads, parses and compiles one policy file (the `--tracing-policy` / policy-directory path). Errors
 * name the file as given, e.g. `namespace-access.yaml:12:9: spec.kprobes[0]…`.
 */
export async function loadTracingPolicyFile(
  path: string,
  options: CompileOptions = {},
): Promise<LoadedPolicyFile> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = (code !== undefined ? READ_FAILURES[code] : undefined) ?? (error as Error).message;
    throw new PolicyError(`cannot read policy file ${path}: ${reason}`, { source: path, cause: error });
  }
  const policy = parseTracingPolicy(text, path);
  return { policy, compiled: compileTracingPolicy(policy, options) };
}
