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

  it("renders what the kernel read: strings, an fd's file path, buffers; an unreadable one as error_arg", () => {
    const read = (text: string, error = false) => ({
      bytes: new TextEncoder().encode(text),
      truncated: false,
      error,
    });
    const withRead = (kind: Parameters<typeof kprobeArgument>[1]["kind"], text: string, error = false) =>
      toJson(
        KprobeArgumentSchema,
        kprobeArgument(3n, { index: 0, kind, label: "x", stringSlot: 0 }, read(text, error)),
        {
          useProtoFieldName: true,
        },
      );
    expect(withRead("string_arg", "/etc/passwd")).toEqual({ string_arg: "/etc/passwd", label: "x" });
    expect(withRead("file_arg", "net:[4026531840]")).toEqual({
      file_arg: { path: "net:[4026531840]" },
      label: "x",
    });
    expect(withRead("bytes_arg", "ab")).toEqual({ bytes_arg: "YWI=", label: "x" });
    expect(withRead("file_arg", "", true)).toEqual({
      error_arg: { Message: "could not read the file argument" },
      label: "x",
    });
  });

  it("shows int 0 explicitly, because it is a oneof member", () => {
    expect(json(0n, "int_arg")).toEqual({ int_arg: 0 });
  });
});
