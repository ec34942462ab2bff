import { describe, expect, it } from "vitest";
import { FilterError } from "./filter-error.js";
import { compileAnyRegex, compileRegex } from "./regex.js";

describe("compileRegex (RE2 subset)", () => {
  it("is unanchored, like Go's MatchString", () => {
    expect(compileRegex("bin/ba", "binary_regex").test("/usr/bin/bash")).toBe(true);
  });
  it("turns RE2 leading inline flags into JS flags", () => {
    expect(compileRegex("(?i)NSENTER", "binary_regex").test("/usr/bin/nsenter")).toBe(true);
    expect(compileRegex("(?s)a.b", "arguments_regex").test("a\nb")).toBe(true);
  });
  it("accepts RE2 named groups", () => {
    expect(compileRegex("(?P<dir>/usr)/bin", "binary_regex").exec("/usr/bin/x")?.groups?.dir).toBe("/usr");
  });
  it("names the field in the error", () => {
    expect(() => compileRegex("a(", "pod_regex")).toThrow(FilterError);
    expect(() => compileRegex("a(", "pod_regex")).toThrow(/^pod_regex: invalid regular expression "a\(":/);
  });
  it("ORs several patterns", () => {
    const m = compileAnyRegex(["^a", "z$"], "binary_regex");
    expect([m("abc"), m("xyz"), m("mmm")]).toEqual([true, true, false]);
  });
});
