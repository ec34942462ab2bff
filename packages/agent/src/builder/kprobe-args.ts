import { create } from "@bufbuild/protobuf";
import { type KprobeArgument, KprobeArgumentSchema } from "@nsguard/sdk";

/** How a syscall register is rendered, by the policy arg `type` (tetragon-reference §1.6). */
export type KprobeArgKind = "int_arg" | "uint_arg" | "long_arg" | "size_arg" | "fd";

export interface KprobeArgSpec {
  /** Position in the syscall's argument list (0-based), i.e. which register. */
  index: number;
  kind: KprobeArgKind;
  /** The policy arg's `label`, copied to KprobeArgument.label. */
  label?: string | undefined;
}

/**
 * One raw 64-bit syscall register → KprobeArgument, truncated the way the C type would be:
 * int → low 32 bits signed, uint32 → low 32 bits unsigned, long → signed 64, size_t/u64 →
 * unsigned 64. An `fd` is an int; Tetragon would resolve it to a file_arg with a path, which
 * needs the kernel to read the file — reported as int_arg until the sensor provides that.
 */
export function kprobeArgument(register: bigint, spec: KprobeArgSpec): KprobeArgument {
  const arg = create(KprobeArgumentSchema, { label: spec.label ?? "" });
  switch (spec.kind) {
    case "int_arg":
    case "fd":
      arg.arg = { case: "intArg", value: Number(BigInt.asIntN(32, register)) };
      break;
    case "uint_arg":
      arg.arg = { case: "uintArg", value: Number(BigInt.asUintN(32, register)) };
      break;
    case "long_arg":
      arg.arg = { case: "longArg", value: BigInt.asIntN(64, register) };
      break;
    case "size_arg":
      arg.arg = { case: "sizeArg", value: BigInt.asUintN(64, register) };
      break;
  }
  return arg;
}
