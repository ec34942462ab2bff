import { describe, expect, it } from "vitest";
import { FilterError } from "./filter-error.js";
import { compileAnyRegex, compileRegex } from "./regex.js";

// Cases where Go's RE2 and JavaScript RegExp disagree; the expected answers are Go's
// regexp.MustCompile(p).MatchString(s).
const goCases: [pattern: string, input: string, match: boolean][] = [
  ["[[:digit:]]", "abc1", true],
  ["[[:digit:]]", "abc", false],
  ["^[[:alpha:]]+$", "abc", true],
  ["a\\z", "xa", true],
  ["a\\z", "a\n", false],
  ["a$", "a\n", false],
  ["(?m)a$", "a\nb", true],
  ["^\\pL+$", "héllo", true],
  ["^\\pL+$", "h3llo", false],
  ["\\p{Greek}", "αβ", true],
  ["(?i:AB)c", "abc", true],
  ["(?i:AB)c", "abC", false],
  ["(?i)NSENTER", "/usr/bin/nsenter", true],
  ["(?s)a.b", "a\nb", true],
  ["a.b", "a\nb", false],
  ["(?P<dir>/usr)/bin", "/usr/bin/x", true],
  ["(?U)a+", "aaa", true],
  ["\\Qa.b\\E", "a.b", true],
  ["\\Qa.b\\E", "axb", false],
  ["bin/ba", "/usr/bin/bash", true],
];

describe("compileRegex (Go RE2)", () => {
  it.each(goCases)("%s against %j is %s, as in Go", (pattern, input, match) => {
    expect(compileRegex(pattern, "binary_regex").test(input)).toBe(match);
  });
  it.each(["a(?=b)", "(a)\\1", "a(", "[", "a**", "(?<!x)a"])(
    "refuses %s, as Go does, naming the field",
    (p) => {
      expect(() => compileRegex(p, "pod_regex")).toThrow(FilterError);
      expect(() => compileRegex(p, "pod_regex")).toThrow(/^pod_regex: invalid regular expression /);
    },
  );
  it("matches a catastrophic-backtracking pattern in linear time", () => {
    // With a backtracking engine this never finishes; RE2 answers at once.
    expect(compileRegex("(a+)+b", "binary_regex").test("a".repeat(36))).toBe(false);
    expect(compileRegex("(a|aa)+$x", "binary_regex").test("a".repeat(100_000))).toBe(false);
  });
  it("ORs several patterns", () => {
    const m = compileAnyRegex(["^a", "z$"], "binary_regex");
    expect([m("abc"), m("xyz"), m("mmm")]).toEqual([true, true, false]);
  });
});
