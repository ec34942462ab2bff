import { FilterError } from "./filter-error.js";

/**
 * Compiles a Go RE2 pattern into a JS RegExp with the same (unanchored, MatchString-style)
 * meaning for the common subset: RE2's leading inline flags `(?i)`, `(?s)`, `(?m)` become JS
 * flags and `(?P<name>` becomes `(?<name>`, because JS has neither syntax. Anything JS cannot
 * parse is a FilterError naming `field`, so a client learns about a typo instead of silently
 * getting no events.
 */
export function compileRegex(pattern: string, field: string): RegExp {
  let source = pattern;
  let flags = "";
  const inline = /^\(\?([ism]+)\)/.exec(source);
  if (inline !== null) {
    flags = [...new Set(inline[1])].join("");
    source = source.slice(inline[0].length);
  }
  source = source.replaceAll("(?P<", "(?<");
  try {
    return new RegExp(source, flags);
  } catch (err) {
    throw new FilterError(
      field,
      `invalid regular expression ${JSON.stringify(pattern)}: ${(err as Error).message}`,
    );
  }
}

/** Compiles every pattern once; the returned tester is true when any pattern matches. */
export function compileAnyRegex(patterns: readonly string[], field: string): (value: string) => boolean {
  const res = patterns.map((p) => compileRegex(p, field));
  return (value) => res.some((re) => re.test(value));
}
