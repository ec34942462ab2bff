import { describe, expect, it } from "vitest";
import { goQuote, maybeQuote } from "./go-quote.js";

describe("goQuote (Go strconv.Quote)", () => {
  it.each([
    ["", '""'],
    ["abc", '"abc"'],
    ['say "hi"', '"say \\"hi\\""'],
    ["a\\b", '"a\\\\b"'],
    ["tab\there\nnl", '"tab\\there\\nnl"'],
    ["\u0007\b\f\r\v", '"\\a\\b\\f\\r\\v"'],
    ["esc\u001b[0m", '"esc\\x1b[0m"'],
    ["del\u007f", '"del\\x7f"'],
    ["héllo ✓ 🚀", '"héllo ✓ 🚀"'],
    ["nbsp\u00a0x", '"nbsp\\u00a0x"'],
    ["zw\u200bj", '"zw\\u200bj"'],
    ["priv\u{F0000}", '"priv\\U000f0000"'],
  ])("%j → %s", (input, expected) => {
    expect(goQuote(input)).toBe(expected);
  });
});

describe("maybeQuote (tetra's encoder)", () => {
  it("leaves plain strings alone", () => {
    expect(maybeQuote("/usr/bin/nsenter")).toBe("/usr/bin/nsenter");
  });
  it("quotes spaces, as tetra does for arguments too", () => {
    expect(maybeQuote("/a b")).toBe('"/a b"');
    expect(maybeQuote("-t 1 -m")).toBe('"-t 1 -m"');
  });
  it("quotes non-printables", () => {
    expect(maybeQuote("x\ny")).toBe('"x\\ny"');
  });
});

// Expected values are what Go's strconv.Quote returns (policy messages and tags go through it).
describe("goQuote matches strconv.Quote", () => {
  it.each([
    ["namespace change", '"namespace change"'],
    ['say "hi"', '"say \\"hi\\""'],
    ["back\\slash", '"back\\\\slash"'],
    ["line\nbreak\ttab\rcr", '"line\\nbreak\\ttab\\rcr"'],
    ["\u0007\b\f\v", '"\\a\\b\\f\\v"'],
    ["nul\u0000del\u007f", '"nul\\x00del\\x7f"'],
    ["ünïcödé ✓ 日本", '"ünïcödé ✓ 日本"'],
    ["nbsp\u00a0here", '"nbsp\\u00a0here"'],
    ["zero\u200bwidth", '"zero\\u200bwidth"'],
    ["emoji 🔧", '"emoji 🔧"'],
    ["private \u{f0000}", '"private \\U000f0000"'],
  ])("%j → %j", (input, output) => {
    expect(goQuote(input)).toBe(output);
  });
});
