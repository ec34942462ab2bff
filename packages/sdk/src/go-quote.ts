// Go's strconv.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space.
const printable = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;

const shortEscapes: Record<number, string> = {
  7: "\\a",
  8: "\\b",
  12: "\\f",
  10: "\\n",
  13: "\\r",
  9: "\\t",
  11: "\\v",
  34: '\\"',
  92: "\\\\",
};

/** Go's `%q` (strconv.Quote) for a string: double-quoted, non-printable runes escaped. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    const short = shortEscapes[cp];
    if (short !== undefined) out += short;
    else if (cp >= 0xd800 && cp <= 0xdfff)
      out += "\\ufffd"; // a lone surrogate is invalid text, as invalid UTF-8 is in Go
    else if (printable.test(ch)) out += ch;
    else if (cp < 0x80) out += `\\x${cp.toString(16).padStart(2, "0")}`;
    else if (cp < 0x10000) out += `\\u${cp.toString(16).padStart(4, "0")}`;
    else out += `\\U${cp.toString(16).padStart(8, "0")}`;
  }
  return `${out}"`;
}

/**
 * Quotes a string only when printing it bare would be ambiguous or unsafe on a terminal:
 * when it contains a space or a non-printable character (an escape sequence in a binary
 * name must not reach the user's terminal raw).
 */
export function maybeQuote(s: string): string {
  for (const ch of s) {
    if (ch === " " || !printable.test(ch)) return goQuote(s);
  }
  return s;
}
