// SPDX-License-Identifier: Apache-2.0

import { describe, expect, it } from "vitest";
import { isPolicyError, PolicyError, type PolicyErrorOptions } from "./policy-error.js";

describe("PolicyError", () => {
  it.each<[PolicyErrorOptions, string]>([
    [
      { path: "spec.kprobes[0].call", source: "a.yaml", line: 7, column: 5 },
      "a.yaml:7:5: spec.kprobes[0].call: bad",
    ],
    [{ path: "spec", source: "a.yaml" }, "a.yaml: spec: bad"],
    [{ path: "spec", line: 3, column: 1 }, "3:1: spec: bad"],
    [{ source: "a.yaml", line: 2, column: 4 }, "a.yaml:2:4: bad"],
    [{ path: "metadata.name" }, "metadata.name: bad"],
    [{}, "bad"],
  ])("formats %j as one diagnostic line", (options, message) => {
    const error = new PolicyError("bad", options);
    expect(error.message).toBe(message);
    expect(error.detail).toBe("bad");
    expect(error.path).toBe(options.path ?? "");
    expect(error.name).toBe("PolicyError");
  });

  it("keeps every message on one line", () => {
    const error = new PolicyError("first\nsecond\r\nthird", { path: "spec" });
    expect(error.message).toBe("spec: first\\nsecond\\nthird");
    expect(error.detail).toBe("first\\nsecond\\nthird");
  });

  it("keeps the cause", () => {
    const cause = new Error("ENOENT");
    expect(new PolicyError("x", { cause }).cause).toBe(cause);
    expect("cause" in new PolicyError("x")).toBe(false);
  });

  it("is recognised by isPolicyError, also from another copy of the package", () => {
    expect(isPolicyError(new PolicyError("x"))).toBe(true);
    expect(isPolicyError(new Error("x"))).toBe(false);
    expect(isPolicyError({ message: "x", path: "spec" })).toBe(false);
    expect(isPolicyError(null)).toBe(false);
    expect(isPolicyError("PolicyError")).toBe(false);
    // What an instance made by a duplicated module looks like: same registered brand, other class.
    const foreign = Object.assign(new Error("x"), { [Symbol.for("@nsguard/policy/PolicyError")]: true });
    expect(isPolicyError(foreign)).toBe(true);
  });
});
