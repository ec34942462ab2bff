// SPDX-License-Identifier: Apache-2.0
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { encodeStruct, KernelContractError, type StructName, structSize } from "./encode.js";
import { NSGUARD_MAX_SELECTORS, structs } from "./gen/nsguard-events.js";

const HEADER = resolve(import.meta.dirname, "../../../bpf/include/nsguard_events.h");
const scratch = mkdtempSync(join(tmpdir(), "nsguard-contract-test-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

type Field = { offset: number; size: number; type: string; length?: number };
const layout = structs as unknown as Record<string, { size: number; fields: Record<string, Field> }>;
const names = Object.keys(structs) as StructName[];

const RANGES: Record<string, [bigint, bigint]> = {
  u8: [0n, 0xffn],
  u16: [0n, 0xffffn],
  u32: [0n, 0xffff_ffffn],
  u64: [0n, 2n ** 64n - 1n],
  s8: [-0x80n, 0x7fn],
  s16: [-0x8000n, 0x7fffn],
  s32: [-(2n ** 31n), 2n ** 31n - 1n],
  s64: [-(2n ** 63n), 2n ** 63n - 1n],
};

/** Any value of `struct name` the encoder accepts: fields left out, short arrays, every range edge. */
function anyValueOf(name: string): fc.Arbitrary<Record<string, unknown>> {
  const fields = layout[name].fields;
  const element = (type: string): fc.Arbitrary<unknown> => {
    const range = RANGES[type];
    if (range) {
      const big = fc.bigInt({ min: range[0], max: range[1] });
      return type.endsWith("64") ? big : big.map(Number);
    }
    if (type === "char") return fc.integer({ min: 0, max: 0x7f });
    return anyValueOf(type);
  };
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [key, f] of Object.entries(fields)) {
    if (f.length === undefined) model[key] = element(f.type);
    else if (f.type === "char") model[key] = fc.uint8Array({ maxLength: f.length });
    else model[key] = fc.array(element(f.type), { maxLength: f.length });
  }
  return fc.record(model, { requiredKeys: [] });
}

/** The same value as a C initializer, so the compiler lays it out. */
function cInit(value: unknown): string {
  if (typeof value === "bigint" || typeof value === "number") {
    const v = BigInt(value);
    return v < 0n ? `(-${-v - 1n}LL - 1)` : `${v}ULL`;
  }
  if (value instanceof Uint8Array) {
    return `{ ${[...value].join(", ")} }`;
  }
  if (Array.isArray(value)) return `{ ${value.map(cInit).join(", ")} }`;
  const entries = Object.entries(value as Record<string, unknown>);
  return `{ ${entries.map(([k, v]) => `.${k} = ${cInit(v)}`).join(", ")} }`;
}

/** Bytes the C compiler makes of each (struct, value), through the real header. */
function compiledBytes(cases: { name: string; value: unknown }[]): Buffer[] {
  const lines = ["#include <linux/types.h>", "#include <stdio.h>", `#include ${JSON.stringify(HEADER)}`];
  cases.forEach(({ name, value }, i) => {
    lines.push(`static const struct ${name} v${i} = ${cInit(value)};`);
  });
  lines.push("int main(void) {");
  cases.forEach((_, i) => {
    lines.push(`  fwrite(&v${i}, sizeof v${i}, 1, stdout);`);
  });
  lines.push("  return 0;", "}");
  const src = join(scratch, "values.c");
  writeFileSync(src, lines.join("\n"));
  execFileSync("cc", ["-std=gnu11", "-w", "-o", join(scratch, "values"), src]);
  const all = execFileSync(join(scratch, "values"), { maxBuffer: 64 << 20 });
  const out: Buffer[] = [];
  let at = 0;
  for (const { name } of cases) {
    const size = structSize(name as StructName);
    out.push(all.subarray(at, at + size));
    at += size;
  }
  expect(at).toBe(all.length);
  return out;
}

describe("encodeStruct", () => {
  it("lays out every struct of the header as the C compiler does (random values)", () => {
    const cases = names.flatMap((name) =>
      fc.sample(anyValueOf(name), { numRuns: 12, seed: 8 }).map((value) => ({ name, value })),
    );
    const expected = compiledBytes(cases);
    cases.forEach(({ name, value }, i) => {
      expect(Buffer.from(encodeStruct(name, value as never)), `${name} #${i}`).toEqual(expected[i]);
    });
  });

  it("writes a hook table the kernel reads field by field", () => {
    const value = {
      enabled: 1,
      selector_count: 1,
      fd_arg: -1,
      selectors: [{ pids: { op: 1, count: 1, values: [1234] }, action: 3 }],
    };
    const [c] = compiledBytes([{ name: "nsguard_hook", value }]);
    const bytes = encodeStruct("nsguard_hook", value);
    expect(Buffer.from(bytes)).toEqual(c);
    expect(bytes.length).toBe(structSize("nsguard_hook"));
    const view = new DataView(bytes.buffer);
    expect(view.getInt32(structs.nsguard_hook.fields.fd_arg.offset, true)).toBe(-1);
  });

  it("takes char arrays as UTF-8 strings, zero-filled", () => {
    const bytes = encodeStruct("nsguard_source", { cgroup_name: "pod-ü" });
    const at = structs.nsguard_source.fields.cgroup_name.offset;
    expect([...bytes.subarray(at, at + 8)]).toEqual([0x70, 0x6f, 0x64, 0x2d, 0xc3, 0xbc, 0, 0]);
  });

  it("takes u64 fields as bigint or safe integer", () => {
    const a = encodeStruct("nsguard_process_key", { pid: 1, ktime: 2n ** 64n - 1n });
    const b = encodeStruct("nsguard_process_key", { pid: 1, ktime: 5 });
    expect(new DataView(a.buffer).getBigUint64(8, true)).toBe(2n ** 64n - 1n);
    expect(new DataView(b.buffer).getBigUint64(8, true)).toBe(5n);
  });

  const refusals: [string, () => unknown, string, RegExp][] = [
    [
      "an unknown field, by its path",
      () => encodeStruct("nsguard_hook", { selectors: [{}, {}, { pids: { valuez: [] } as never }] }),
      "nsguard_hook.selectors[2].pids.valuez",
      /has no field valuez/,
    ],
    [
      "a value out of range",
      () => encodeStruct("nsguard_hook", { selectors: [{}, {}, { pids: { values: [2 ** 32] } }] }),
      "nsguard_hook.selectors[2].pids.values[0]",
      /out of range for u32/,
    ],
    [
      "a negative unsigned value",
      () => encodeStruct("nsguard_process_key", { ktime: -1n }),
      "nsguard_process_key.ktime",
      /out of range for u64/,
    ],
    [
      "a signed value out of range",
      () => encodeStruct("nsguard_hook", { fd_arg: 2 ** 31 }),
      "nsguard_hook.fd_arg",
      /out of range for s32/,
    ],
    [
      "an unsafe number for u64",
      () => encodeStruct("nsguard_process_key", { ktime: 2 ** 60 }),
      "nsguard_process_key.ktime",
      /must be an integer/,
    ],
    [
      "a fraction",
      () => encodeStruct("nsguard_hook", { enabled: 0.5 }),
      "nsguard_hook.enabled",
      /must be an integer/,
    ],
    [
      "an array longer than the C array",
      () => encodeStruct("nsguard_hook", { selectors: Array(NSGUARD_MAX_SELECTORS + 1).fill({}) }),
      "nsguard_hook.selectors",
      /6 elements do not fit nsguard_selector\[5\]/,
    ],
    [
      "a string that does not fit",
      () => encodeStruct("nsguard_task", { comm: "x".repeat(17) }),
      "nsguard_task.comm",
      /17 bytes do not fit char\[16\]/,
    ],
    [
      "a scalar where a struct goes",
      () => encodeStruct("nsguard_hook", { selectors: [5 as never] }),
      "nsguard_hook.selectors[0]",
      /must be an object \(struct nsguard_selector\)/,
    ],
    [
      "an unknown struct",
      () => encodeStruct("nsguard_nope" as StructName, {}),
      "nsguard_nope",
      /no such struct/,
    ],
  ];
  it.each(refusals)("refuses %s", (_, encode, path, message) => {
    let error: unknown;
    try {
      encode();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(KernelContractError);
    expect((error as KernelContractError).path).toBe(path);
    expect((error as Error).message).toMatch(message);
  });
});
