import { describe, expect, it } from "vitest";
import { formatArguments } from "./arguments.js";

describe("formatArguments", () => {
  it("joins plain arguments with single spaces (the seed's nsenter)", () => {
    expect(formatArguments(["-t", "1", "-m", "-u", "-n", "-i", "-p"])).toBe("-t 1 -m -u -n -i -p");
  });

  it("quotes arguments with spaces exactly like Tetragon", () => {
    expect(formatArguments(["-c", "curl cilium.io"])).toBe('-c "curl cilium.io"');
  });

  it("is empty for no arguments", () => {
    expect(formatArguments([])).toBe("");
  });

  it("does not add upstream's leading space when the first argument is quoted", () => {
    expect(formatArguments(["a b", "c"])).toBe('"a b" c');
  });

  it("escapes quotes and backslashes inside quotes so the string stays unambiguous", () => {
    expect(formatArguments(['say "hi"'])).toBe('"say \\"hi\\""');
    expect(formatArguments(['x"y'])).toBe('"x\\"y"');
    expect(formatArguments(["a\\b c"])).toBe('"a\\\\b c"');
  });

  it("leaves a lone backslash argument unquoted, as upstream", () => {
    expect(formatArguments(["C:\\x"])).toBe("C:\\x");
  });

  it("quotes empty arguments and control characters", () => {
    expect(formatArguments(["", "x"])).toBe('"" x');
    expect(formatArguments(["a\tb", "l1\nl2"])).toBe('"a\\tb" "l1\\nl2"');
    expect(formatArguments(["\u0001"])).toBe('"\\x01"');
    expect(formatArguments(["\u001b[31mred"])).toBe('"\\x1b[31mred"');
  });

  it("keeps printable unicode as is", () => {
    expect(formatArguments(["héllo wörld", "日本"])).toBe('"héllo wörld" 日本');
  });
});
