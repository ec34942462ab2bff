import { toJson } from "@bufbuild/protobuf";
import { KprobeArgumentSchema } from "@nsguard/sdk";
import { describe, expect, it } from "vitest";
import { kprobeArgument } from "./kprobe-args.js";

const json = (register: bigint, kind: Parameters<typeof kprobeArgument>[1]["kind"], label?: string) =>
  toJson(KprobeArgumentSchema, kprobeArgument(register, { index: 0, kind, label }), {
    useProtoFieldName: true,
  });

describe("kprobeArgument", () => {
  it("renders the seed's setns arguments", () => {
    expect(json(3n, "int_arg")).toEqual({ int_arg: 3 });
    expect(json(0x8000000n, "int_arg")).toEqual({ int_arg: 134217728 });
  });

  it("truncates int to the low 32 bits, signed (upper register garbage ignored)", () => {
    expect(json(0xffffffffffffffffn, "int_arg")).toEqual({ int_arg: -1 });
    expect(json(0xdead00000000002an, "int_arg")).toEqual({ int_arg: 42 });
    expect(json(0x80000000n, "int_arg")).toEqual({ int_arg: -2147483648 }); // CLONE_NEWTIME<<24 style high bit
  });

  it("renders uint32 unsigned", () => {
    expect(json(0xffffffffffffffffn, "uint_arg")).toEqual({ uint_arg: 4294967295 });
  });

  it("renders 64-bit values as protojson strings", () => {
    expect(json(0xffffffffffffffffn, "long_arg")).toEqual({ long_arg: "-1" });
    expect(json(0xffffffffffffffffn, "size_arg")).toEqual({ size_arg: "18446744073709551615" });
  });

  it("treats fd as int for now and keeps the label", () => {
    expect(json(0xffffffffn, "fd", "nsfd")).toEqual({ int_arg: -1, label: "nsfd" });
  });

  it("shows int 0 explicitly, because it is a oneof member", () => {
    expect(json(0n, "int_arg")).toEqual({ int_arg: 0 });
  });
});
