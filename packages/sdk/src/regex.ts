import { RE2JS, RE2JSException } from "re2js";
import { FilterError } from "./filter-error.js";

/** A compiled regular expression; `test` is Go's `Regexp.MatchString` (unanchored). */
export interface Re2Matcher {
  test(value: string): boolean;
}

/**
 * Compiles a pattern with Go's RE2 syntax and semantics (`regexp.Compile`): POSIX classes
 * such as `[[:digit:]]`, `\z`, Unicode classes `\pL`, scoped flags `(?i:…)`, `(?P<name>…)`.
 * Tetragon compiles every Filter regex with Go's regexp; re2js is a port of the same RE2
 * automaton, so a pattern means the same here and matching runs in time linear in the input
 * whatever the pattern (no backtracking: `(a+)+b` cannot stall the publish path). Syntax RE2
 * refuses (look-around, backreferences) is a FilterError naming `field`, as in Tetragon.
 */
export function compileRegex(pattern: string, field: string): Re2Matcher {
  try {
    return RE2JS.compile(pattern);
  } catch (err) {
    if (!(err instanceof RE2JSException)) throw err;
    throw new FilterError(field, `invalid regular expression ${JSON.stringify(pattern)}: ${err.message}`);
  }
}

/** Compiles every pattern once; the returned tester is true when any pattern matches. */
export function compileAnyRegex(patterns: readonly string[], field: string): (value: string) => boolean {
  const res = patterns.map((p) => compileRegex(p, field));
  return (value) => res.some((re) => re.test(value));
}
