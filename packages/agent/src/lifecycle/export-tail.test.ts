import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { truncatePartialLastLine } from "./export-tail.js";

const dir = mkdtempSync(join(tmpdir(), "nsguard-export-tail-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("truncatePartialLastLine", () => {
  it("cuts a last line without its newline, keeping every whole line", () => {
    const file = join(dir, "cut.log");
    writeFileSync(file, '{"a":1}\n{"b":2}\n{"c":');
    expect(truncatePartialLastLine(file)).toBe(5);
    expect(readFileSync(file, "utf8")).toBe('{"a":1}\n{"b":2}\n');
  });

  it("leaves a whole file, an empty one and a missing one alone", () => {
    const whole = join(dir, "whole.log");
    writeFileSync(whole, '{"a":1}\n');
    expect(truncatePartialLastLine(whole)).toBe(0);
    expect(readFileSync(whole, "utf8")).toBe('{"a":1}\n');
    const empty = join(dir, "empty.log");
    writeFileSync(empty, "");
    expect(truncatePartialLastLine(empty)).toBe(0);
    expect(truncatePartialLastLine(join(dir, "missing.log"))).toBe(0);
  });

  it("empties a file that is one cut line", () => {
    const file = join(dir, "one.log");
    writeFileSync(file, '{"process_kprobe":');
    expect(truncatePartialLastLine(file)).toBe(18);
    expect(readFileSync(file, "utf8")).toBe("");
  });
});
