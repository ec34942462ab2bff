// SPDX-License-Identifier: Apache-2.0

import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { compileTracingPolicy } from "./compile-tracing-policy.js";
import { loadTracingPolicyFile } from "./load-tracing-policy-file.js";
import { parseTracingPolicy } from "./parse-tracing-policy.js";
import { isPolicyError, type PolicyError } from "./policy-error.js";

// testdata/malformed/: every file is refused, with the field path and message its header states
// (testdata/malformed/README.md).
const DIR = fileURLToPath(new URL("../testdata/malformed/", import.meta.url));
const corpus = readdirSync(DIR)
  .filter((f) => f.endsWith(".yaml"))
  .sort()
  .map((file) => {
    const text = readFileSync(`${DIR}${file}`, "utf8");
    const header = (name: string) => new RegExp(`^# ${name}: ?(.*)$`, "m").exec(text)?.[1] ?? "";
    return { file, text, stage: header("stage"), path: header("path"), error: header("error") };
  });

/** The message with a source name: `file:line:col: …`, or `file: …` when there is no position. */
function withSource(source: string, error: string): string {
  return /^\d/.test(error) ? `${source}:${error}` : `${source}: ${error}`;
}

function refusal(fn: () => unknown): PolicyError {
  try {
    fn();
  } catch (error) {
    if (isPolicyError(error)) return error;
    throw error;
  }
  throw new Error("expected a PolicyError");
}

describe("the malformed-policy corpus", () => {
  it("holds at least 40 policies, each with a stage and an error", () => {
    expect(corpus.length).toBeGreaterThanOrEqual(40);
    for (const c of corpus) {
      expect(["parse", "compile", "load"], c.file).toContain(c.stage);
      expect(c.error, c.file).not.toBe("");
    }
  });

  it.each(corpus.filter((c) => c.stage !== "load"))(
    "$file: refused at $stage with its path and message",
    async (c) => {
      const error = refusal(() => compileTracingPolicy(parseTracingPolicy(c.text), { arch: "x86_64" }));
      expect(error.path).toBe(c.path);
      expect(error.message).toBe(c.error);
      if (c.stage === "compile") expect(() => parseTracingPolicy(c.text)).not.toThrow();
      // Read from a file (the agent's --tracing-policy and lint), the same message names the file.
      const fromFile = await loadTracingPolicyFile(`${DIR}${c.file}`, { arch: "x86_64" }).catch((e) => e);
      expect(fromFile.message).toBe(withSource(`${DIR}${c.file}`, c.error));
    },
  );

  it.each(corpus.filter((c) => c.stage === "load"))(
    "$file compiles to a hook the sensor must refuse",
    (c) => {
      const compiled = compileTracingPolicy(parseTracingPolicy(c.text), { arch: "x86_64" });
      expect(compiled.hooks.map((h) => h.attach.kind)).toEqual(["kprobe"]);
      expect(compiled.hooks[0]?.specPath).toBe(c.path);
    },
  );
});
