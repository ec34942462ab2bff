import { goQuote, maybeQuote } from "@nsguard/sdk";

/**
 * argv[1..] → Tetragon's `Process.arguments` string.
 *
 * Tetragon (pkg/process/args.go ArgsDecoder) joins the arguments with single spaces and wraps an
 * argument that contains a space in double quotes, e.g. `sh -c "curl cilium.io"` →
 * `-c "curl cilium.io"`. For every argument of that kind our output is byte-identical.
 *
 * Deliberate differences, all for inputs where upstream's output is ambiguous or unsafe:
 * - upstream wraps without escaping, so an argument containing `"` cannot be told apart from two
 *   arguments; we quote Go-style (`strconv.Quote`, the SDK's goQuote): `"` and `\` inside
 *   quotes are escaped, and arguments containing `"`, non-printable characters (terminal escape
 *   sequences must not reach a user's terminal raw) or nothing at all are quoted too;
 * - upstream prefixes a space when the *first* argument needs quotes (` "a b" c`); we do not.
 */
export function formatArguments(args: readonly string[]): string {
  return args.map(formatArgument).join(" ");
}

/** One argument as it appears inside `Process.arguments`. */
export function formatArgument(arg: string): string {
  if (arg === "" || arg.includes('"')) return goQuote(arg);
  return maybeQuote(arg);
}
