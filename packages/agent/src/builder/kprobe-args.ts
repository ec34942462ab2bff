import { type KprobeArgument, KprobeArgumentSchema } from "@nsguard/sdk";
import { messageTemplate } from "./message-template.js";

const ARGUMENT = messageTemplate(KprobeArgumentSchema);

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
  return { ...ARGUMENT, label: spec.label ?? "", arg: argumentValue(register, spec) };
}

function argumentValue(register: bigint, spec: KprobeArgSpec): KprobeArgument["arg"] {
  switch (spec.kind) {
    case "int_arg":
    case "fd":
      return { case: "intArg", value: Number(BigInt.asIntN(32, register)) };
    case "uint_arg":
      return { case: "uintArg", value: Number(BigInt.asUintN(32, register)) };
    case "long_arg":
      return { case: "longArg", value: BigInt.asIntN(64, register) };
    case "size_arg":
      return { case: "sizeArg", value: BigInt.asUintN(64, register) };
  }
}
