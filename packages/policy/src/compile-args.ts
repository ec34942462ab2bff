// SPDX-License-Identifier: Apache-2.0

import type { CompiledArg, CompiledArgKind } from "./compiled-policy-types.js";
import type { ArgType } from "./crd-enums.js";
import { fieldPath, itemPath } from "./field-path.js";
import { policyErrorAt } from "./source-locations.js";
import type { KProbeArg, TracingPolicy } from "./tracing-policy-types.js";

/** Syscalls take at most six register arguments; struct nsguard_syscall_event carries args[6]. */
export const MAX_ARG_INDEX = 5;

// Which KprobeArgument member each type is reported as (reference §1.6, args_linux.go). Only the
// types nsguard can read from a raw syscall register are here; the rest need BTF-driven readers.
const ARG_KINDS: Partial<Record<ArgType, CompiledArgKind>> = {
  int: "int_arg",
  int32: "int_arg",
  sint32: "int_arg",
  int16: "int_arg",
  sint16: "int_arg",
  int8: "int_arg",
  sint8: "int_arg",
  uint32: "uint_arg",
  uint16: "uint_arg",
  uint8: "uint_arg",
  long: "long_arg",
  int64: "long_arg",
  sint64: "long_arg",
  // Tetragon resolves `auto` from the function's BTF prototype. nsguard has no BTF in TypeScript, so
  // `auto` reports the raw register as a signed 64-bit value: lossless for every integer argument.
  auto: "long_arg",
  uint64: "size_arg",
  ulong: "size_arg",
  size_t: "size_arg",
  fd: "fd",
};

export interface CompiledArgs {
  args: CompiledArg[];
  /** Function index of the first `fd` argument, or -1. */
  fdArg: number;
}

/** Compiles a hook's `args` (at `argsPath`), refusing what nsguard cannot read yet. */
export function compileArgs(
  policy: TracingPolicy,
  args: readonly KProbeArg[],
  argsPath: string,
): CompiledArgs {
  const compiled: CompiledArg[] = [];
  let fdArg = -1;
  args.forEach((arg, i) => {
    const path = itemPath(argsPath, i);
    if (arg.index > MAX_ARG_INDEX) {
      throw policyErrorAt(
        policy,
        fieldPath(path, "index"),
        `argument index ${arg.index} is out of range: a syscall has at most ${MAX_ARG_INDEX + 1} arguments (0..${MAX_ARG_INDEX})`,
      );
    }
    refuseArgOptions(policy, arg, path);
    if (arg.type === "nop") return;
    const kind = ARG_KINDS[arg.type];
    if (kind === undefined) {
      throw policyErrorAt(
        policy,
        fieldPath(path, "type"),
        `argument type ${JSON.stringify(arg.type)} is not supported by nsguard yet`,
      );
    }
    if (kind === "fd" && fdArg === -1) fdArg = arg.index;
    compiled.push(
      arg.label === undefined ? { index: arg.index, kind } : { index: arg.index, kind, label: arg.label },
    );
  });
  return { args: compiled, fdArg };
}

// Each of these changes what is read or when; none has a meaning for a plain register value yet.
function refuseArgOptions(policy: TracingPolicy, arg: KProbeArg, path: string): void {
  const set: [string, boolean][] = [
    ["resolve", arg.resolve !== ""],
    ["sizeArgIndex", arg.sizeArgIndex !== undefined && arg.sizeArgIndex !== 0],
    ["returnCopy", arg.returnCopy],
    ["maxData", arg.maxData],
    ["source", arg.source !== undefined && arg.source !== ""],
    ["btfType", arg.btfType !== undefined && arg.btfType !== ""],
    ["btfTypeModule", arg.btfTypeModule !== undefined && arg.btfTypeModule !== ""],
  ];
  for (const [name, isSet] of set) {
    if (isSet) throw policyErrorAt(policy, fieldPath(path, name), "not supported by nsguard yet");
  }
}
