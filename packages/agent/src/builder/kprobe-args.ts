import type { CompiledArgKind } from "@nsguard/policy";
import { type KprobeArgument, KprobeArgumentSchema, KprobeErrorSchema, KprobeFileSchema } from "@nsguard/sdk";
import type { RawArgString } from "@nsguard/sensor";
import { messageTemplate } from "./message-template.js";

const ARGUMENT = messageTemplate(KprobeArgumentSchema);
const FILE = messageTemplate(KprobeFileSchema);
const ERROR = messageTemplate(KprobeErrorSchema);
const utf8 = new TextDecoder();

/** How an argument is rendered: the policy arg `type`'s KprobeArgument member (tetragon-reference §1.6). */
export type KprobeArgKind = CompiledArgKind;

export interface KprobeArgSpec {
  /** Position in the syscall's argument list (0-based), i.e. which register. */
  index: number;
  kind: KprobeArgKind;
  /** The policy arg's `label`, copied to KprobeArgument.label. */
  label?: string | undefined;
  /** string_arg, file_arg, bytes_arg: the record's string slot the kernel read it into. */
  stringSlot?: number | undefined;
}

/**
 * One argument → KprobeArgument. Registers are truncated the way the C type would be: int → low
 * 32 bits signed, uint32 → low 32 bits unsigned, long → signed 64, size_t/u64 → unsigned 64.
 * Strings, files and buffers come from what the kernel read at the call (`read`); one it could
 * not read is an error_arg, as Tetragon reports a failed argument read.
 */
export function kprobeArgument(register: bigint, spec: KprobeArgSpec, read?: RawArgString): KprobeArgument {
  return { ...ARGUMENT, label: spec.label ?? "", arg: argumentValue(register, spec, read) };
}

function argumentValue(
  register: bigint,
  spec: KprobeArgSpec,
  read: RawArgString | undefined,
): KprobeArgument["arg"] {
  switch (spec.kind) {
    case "int_arg":
      return { case: "intArg", value: Number(BigInt.asIntN(32, register)) };
    case "uint_arg":
      return { case: "uintArg", value: Number(BigInt.asUintN(32, register)) };
    case "long_arg":
      return { case: "longArg", value: BigInt.asIntN(64, register) };
    case "size_arg":
      return { case: "sizeArg", value: BigInt.asUintN(64, register) };
  }
  if (read === undefined || read.error) {
    return {
      case: "errorArg",
      value: { ...ERROR, Message: `could not read the ${spec.kind.replace("_arg", "")} argument` },
    };
  }
  switch (spec.kind) {
    case "string_arg":
      return { case: "stringArg", value: utf8.decode(read.bytes) };
    case "file_arg":
      return { case: "fileArg", value: { ...FILE, path: utf8.decode(read.bytes) } };
    case "bytes_arg":
      return { case: "bytesArg", value: read.bytes };
  }
}
