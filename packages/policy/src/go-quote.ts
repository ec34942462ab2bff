// SPDX-License-Identifier: Apache-2.0

// Tetragon passes a policy's `message` and `tags` through Go's strconv.Quote and strips the outer
// quotes before putting them in events, so a quote or a newline arrives escaped. nsguard emits the
// same text, so this reproduces strconv.Quote for the characters a JS string can hold.

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;
const SHORT_ESCAPES: Readonly<Record<string, string>> = {
  "\u0007": "\\a",
  "\b": "\\b",
  "\f": "\\f",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
  "\v": "\\v",
};

/** `strconv.Quote(text)` without the surrounding double quotes. */
export function goQuoteContent(text: string): string {
  let out = "";
  for (const ch of text) {
    if (ch === '"' || ch === "\\") {
      out += `\\${ch}`;
      continue;
    }
    if (PRINTABLE.test(ch)) {
      out += ch;
      continue;
    }
    const short = SHORT_ESCAPES[ch];
    if (short !== undefined) {
      out += short;
      continue;
    }
    const code = ch.codePointAt(0) ?? 0;
    if (code < 0x20 || code === 0x7f) out += `\\x${hex(code, 2)}`;
    else if (code < 0x10000) out += `\\u${hex(code, 4)}`;
    else out += `\\U${hex(code, 8)}`;
  }
  return out;
}

function hex(value: number, width: number): string {
  return value.toString(16).padStart(width, "0");
}
