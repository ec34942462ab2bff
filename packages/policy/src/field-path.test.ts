// SPDX-License-Identifier: Apache-2.0

import { describe, expect, it } from "vitest";
import { fieldPath, itemPath, parentPath } from "./field-path.js";

describe("field paths", () => {
  it("builds paths the way errors show them", () => {
    expect(fieldPath("", "spec")).toBe("spec");
    expect(fieldPath(itemPath(fieldPath("spec", "kprobes"), 0), "call")).toBe("spec.kprobes[0].call");
    expect(fieldPath("metadata.labels", "app.kubernetes.io/name")).toBe(
      'metadata.labels["app.kubernetes.io/name"]',
    );
    expect(fieldPath("spec", "<<")).toBe('spec["<<"]');
    expect(fieldPath("spec.selectorsMacros", "not-init")).toBe('spec.selectorsMacros["not-init"]');
  });

  it.each([
    ["spec.kprobes[0].selectors[1].matchPIDs", "spec.kprobes[0].selectors[1]"],
    ["spec.kprobes[0].selectors[1]", "spec.kprobes[0].selectors"],
    ["spec.kprobes", "spec"],
    ["spec", ""],
    ['metadata.labels["a.b/c"]', "metadata.labels"],
    ['spec.selectorsMacros["m"].matchPIDs', 'spec.selectorsMacros["m"]'],
  ])("parent of %s is %s", (path, parent) => {
    expect(parentPath(path)).toBe(parent);
  });

  it("the root has no parent", () => {
    expect(parentPath("")).toBeUndefined();
  });
});
