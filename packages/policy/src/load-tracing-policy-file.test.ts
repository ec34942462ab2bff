// SPDX-License-Identifier: Apache-2.0

import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadTracingPolicyFile } from "./load-tracing-policy-file.js";
import { PolicyError } from "./policy-error.js";
import {
  compiledDenyNamespaceAccess,
  compiledNamespaceAccess,
  DENY_NAMESPACE_ACCESS_FILE,
  DENY_NAMESPACE_ACCESS_POLICY,
  NAMESPACE_ACCESS_FILE,
  NAMESPACE_ACCESS_POLICY,
} from "./testing/seed-policies.js";

async function loadError(path: string): Promise<PolicyError> {
  try {
    await loadTracingPolicyFile(path, { arch: "x86_64" });
  } catch (error) {
    if (error instanceof PolicyError) return error;
    throw error;
  }
  throw new Error("expected a PolicyError");
}

describe("loadTracingPolicyFile", () => {
  let dir = "";
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "nsguard-policy-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("loads examples/namespace-access.yaml", async () => {
    expect(await loadTracingPolicyFile(NAMESPACE_ACCESS_FILE, { arch: "x86_64" })).toStrictEqual({
      policy: NAMESPACE_ACCESS_POLICY,
      compiled: compiledNamespaceAccess("x86_64"),
    });
  });

  it("loads examples/deny-namespace-access.yaml", async () => {
    expect(await loadTracingPolicyFile(DENY_NAMESPACE_ACCESS_FILE, { arch: "arm64" })).toStrictEqual({
      policy: DENY_NAMESPACE_ACCESS_POLICY,
      compiled: compiledDenyNamespaceAccess("arm64"),
    });
  });

  it("passes the mode option on to the compiler", async () => {
    const { compiled } = await loadTracingPolicyFile(DENY_NAMESPACE_ACCESS_FILE, {
      arch: "x86_64",
      mode: "monitor",
    });
    expect(compiled.mode).toBe("monitor");
    expect(compiled.hooks[0]?.table.selectors[0]?.action).toBe(1);
  });

  it("names a missing file", async () => {
    const path = join(dir, "absent.yaml");
    const error = await loadError(path);
    expect(error.message).toBe(`${path}: cannot read policy file ${path}: no such file`);
    expect((error.cause as NodeJS.ErrnoException).code).toBe("ENOENT");
  });

  it("names a directory given as a file", async () => {
    expect((await loadError(dir)).message).toBe(`${dir}: cannot read policy file ${dir}: it is a directory`);
  });

  it("prefixes parse errors with the file name", async () => {
    const path = join(dir, "bad.yaml");
    await writeFile(
      path,
      "apiVersion: cilium.io/v1alpha1\nkind: TracingPolicy\nmetadata:\n  name: bad\nspec:\n  kprobes:\n  - call: sys_setns\n    args: [{index: 0, type: inty}]\n",
    );
    const message = (await loadError(path)).message;
    expect(message.startsWith(`${path}:8:29: spec.kprobes[0].args[0].type: unknown type "inty"`)).toBe(true);
  });

  it("prefixes compile errors with the file name and position", async () => {
    const path = join(dir, "override.yaml");
    await writeFile(
      path,
      "apiVersion: cilium.io/v1alpha1\nkind: TracingPolicy\nmetadata:\n  name: o\nspec:\n  kprobes:\n  - call: sys_setns\n    selectors:\n    - matchActions:\n      - action: Override\n        argError: -1\n",
    );
    const error = await loadError(path);
    expect(error.path).toBe("spec.kprobes[0].selectors[0].matchActions[0].action");
    expect(
      error.message.startsWith(
        `${path}:10:9: spec.kprobes[0].selectors[0].matchActions[0].action: Override cannot work`,
      ),
    ).toBe(true);
  });
});
