// SPDX-License-Identifier: Apache-2.0

import { describe, expect, it } from "vitest";
import { goQuoteContent } from "./go-quote.js";

// Expected values are what Go's strconv.Quote returns, minus the outer quotes.
describe("goQuoteContent", () => {
  it.each([
    ["namespace change", "namespace change"],
    ['say "hi"', 'say \\"hi\\"'],
    ["back\\slash", "back\\\\slash"],
    ["line\nbreak\ttab\rcr", "line\\nbreak\\ttab\\rcr"],
    ["\u0007\b\f\v", "\\a\\b\\f\\v"],
    ["nul\u0000del\u007f", "nul\\x00del\\x7f"],
    ["ünïcödé ✓ 日本", "ünïcödé ✓ 日本"],
    ["nbsp\u00a0here", "nbsp\\u00a0here"],
    ["zero\u200bwidth", "zero\\u200bwidth"],
    ["emoji 🔧", "emoji 🔧"],
    ["private \u{f0000}", "private \\U000f0000"],
  ])("%j → %j", (input, output) => {
    expect(goQuoteContent(input)).toBe(output);
  });
});
