// SPDX-License-Identifier: Apache-2.0
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const GENERATOR = resolve(import.meta.dirname, "../scripts/generate.mjs");
const scratch = mkdtempSync(join(tmpdir(), "nsguard-generate-test-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("scripts/generate.mjs", () => {
  it("picks up new macros, enums, structs and fields of any header without changes to itself", async () => {
    const header = join(scratch, "contract.h");
    writeFileSync(
      header,
      `#ifndef CONTRACT_H
#define CONTRACT_H
#define NSGUARD_NEW_LEN 3
#define NSGUARD_NEW_DERIVED (NSGUARD_NEW_LEN * 2 + 1)
#define NSGUARD_NEW_HUGE (1ULL << 60)
#define NSGUARD_NEW_NEGATIVE (-7)
#define NSGUARD_NEW_STRING "not a number"
#define NSGUARD_NEW_TYPE __u32
#define NSGUARD_NEW_FN(x) ((x) + 1)
enum nsguard_new_kind { NSGUARD_NEW_A = 4, NSGUARD_NEW_B, NSGUARD_NEW_C = NSGUARD_NEW_LEN };
struct nsguard_new_inner { __u16 lo; __s16 hi; };
struct nsguard_new {
	__u8 tag;
	char name[NSGUARD_NEW_LEN];
	struct nsguard_new_inner inner[2];
	__s64 big;
	enum nsguard_new_kind kind;
	__u32 pad;
};
#endif
`,
    );
    const output = join(scratch, "contract.ts");
    execFileSync("node", [GENERATOR, header, output]);
    const text = readFileSync(output, "utf8");
    expect(text).not.toMatch(/NSGUARD_NEW_(STRING|TYPE|FN)|CONTRACT_H/);
    const gen = await import(output);
    expect(gen.NSGUARD_NEW_DERIVED).toBe(7);
    expect(gen.NSGUARD_NEW_HUGE).toBe(1n << 60n);
    expect(gen.NSGUARD_NEW_NEGATIVE).toBe(-7);
    expect(gen.NSGUARD_NEW_B).toBe(5);
    expect(gen.enums.nsguard_new_kind).toEqual({ NSGUARD_NEW_A: 4, NSGUARD_NEW_B: 5, NSGUARD_NEW_C: 3 });
    expect(gen.structs.nsguard_new_inner).toEqual({
      size: 4,
      align: 2,
      fields: { lo: { offset: 0, size: 2, type: "u16" }, hi: { offset: 2, size: 2, type: "s16" } },
    });
    expect(gen.structs.nsguard_new).toEqual({
      size: 32,
      align: 8,
      fields: {
        tag: { offset: 0, size: 1, type: "u8" },
        name: { offset: 1, size: 3, type: "char", length: 3 },
        inner: { offset: 4, size: 8, type: "nsguard_new_inner", length: 2 },
        big: { offset: 16, size: 8, type: "s64" },
        kind: { offset: 24, size: 4, type: "u32" },
        pad: { offset: 28, size: 4, type: "u32" },
      },
    });
    // Deterministic: a second run writes the same bytes.
    execFileSync("node", [GENERATOR, header, output]);
    expect(readFileSync(output, "utf8")).toBe(text);
  });

  it("refuses what the encoder could not represent, naming the field", () => {
    const header = join(scratch, "pointer.h");
    writeFileSync(header, "struct nsguard_bad { __u64 ok; char *name; };\n");
    expect(() =>
      execFileSync("node", [GENERATOR, header, join(scratch, "bad.ts")], { stdio: "pipe" }),
    ).toThrow(/struct nsguard_bad\.name: pointers are not supported/);
  });
});
