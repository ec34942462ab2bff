// SPDX-License-Identifier: Apache-2.0

import type {
  CompiledArg,
  CompiledArgKind,
  CompiledReturnArg,
  StringArgTable,
} from "./compiled-policy-types.js";
import type { ArgType } from "./crd-enums.js";
import { MAX_STRING_ARGS } from "./crd-limits.js";
import { fieldPath, itemPath } from "./field-path.js";
import { policyErrorAt } from "./source-locations.js";
import type { KProbeArg, TracingPolicy } from "./tracing-policy-types.js";

/** Syscalls take at most six register arguments; struct nsguard_syscall_event carries args[6]. */
export const MAX_ARG_INDEX = 5;

// Which KprobeArgument member each type is reported as (reference §1.6, args_linux.go). Only the
// types a syscall hook can produce are here: registers, and what the kernel reads through them
// (strings, an open file's path, buffers); the rest are kernel structs that need a kprobe.
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
  string: "string_arg",
  filename: "string_arg",
  fd: "file_arg",
  file: "file_arg",
  char_buf: "bytes_arg",
};

const STRING_READS: Partial<Record<ArgType, StringArgTable["kind"]>> = {
  string: "user",
  filename: "user",
  fd: "fd-path",
  file: "fd-path",
  char_buf: "char-buf",
};

export interface CompiledArgs {
  args: CompiledArg[];
  /** Function index of the first `fd` argument, or -1. */
  fdArg: number;
  /** What the kernel reads as strings, by CompiledArg.stringSlot. */
  strings: StringArgTable[];
}

/** Compiles a hook's `args` (at `argsPath`), refusing what nsguard cannot read yet. */
export function compileArgs(
  policy: TracingPolicy,
  args: readonly KProbeArg[],
  argsPath: string,
): CompiledArgs {
  const compiled: CompiledArg[] = [];
  const strings: StringArgTable[] = [];
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
    const read = STRING_READS[arg.type];
    // Checked for every type: an integer argument with sizeArgIndex would silently ignore it.
    const sizeArg = sizeArgOf(policy, arg, path, read);
    if (read === "fd-path" && fdArg === -1) fdArg = arg.index;
    const entry: CompiledArg = { index: arg.index, kind };
    if (arg.label !== undefined) entry.label = arg.label;
    if (read !== undefined) {
      if (strings.length === MAX_STRING_ARGS) {
        throw policyErrorAt(
          policy,
          fieldPath(path, "type"),
          `a hook reads at most ${MAX_STRING_ARGS} string, file or buffer arguments in nsguard`,
        );
      }
      entry.stringSlot = strings.length;
      strings.push({ kind: read, index: arg.index, sizeArg });
    }
    compiled.push(entry);
  });
  return { args: compiled, fdArg, strings };
}

/**
 * char_buf's byte count: `sizeArgIndex` names it 1-based (Tetragon's quirk: "size is argument 2"
 * is written 3). The kernel reads that register directly, so the hook need not declare it (as in
 * Tetragon). Any other type with sizeArgIndex is refused: it would be ignored.
 */
function sizeArgOf(
  policy: TracingPolicy,
  arg: KProbeArg,
  path: string,
  read: StringArgTable["kind"] | undefined,
): number {
  const given = arg.sizeArgIndex ?? 0;
  if (read !== "char-buf") {
    if (given !== 0) {
      throw policyErrorAt(policy, fieldPath(path, "sizeArgIndex"), "is only used by char_buf arguments");
    }
    return -1;
  }
  if (given === 0) {
    throw policyErrorAt(
      policy,
      fieldPath(path, "sizeArgIndex"),
      "a char_buf argument needs sizeArgIndex (1-based: the argument holding its length is index + 1)",
    );
  }
  const sizeIndex = given - 1;
  if (sizeIndex > MAX_ARG_INDEX) {
    throw policyErrorAt(
      policy,
      fieldPath(path, "sizeArgIndex"),
      `${given} names argument ${sizeIndex}, but a syscall has arguments 0..${MAX_ARG_INDEX} (sizeArgIndex is 1-based)`,
    );
  }
  return sizeIndex;
}

/**
 * `returnArg` of a `return: true` hook: how the return value is reported and compared. A syscall
 * returns a long (a result, or -errno), so only the integer types apply; its `index` means
 * nothing for a return value and is not read. Tetragon's `auto` resolves to the prototype's long.
 */
export function compileReturnArg(policy: TracingPolicy, arg: KProbeArg, path: string): CompiledReturnArg {
  refuseArgOptions(policy, arg, path);
  const kind = ARG_KINDS[arg.type];
  if (kind === undefined || STRING_READS[arg.type] !== undefined) {
    throw policyErrorAt(
      policy,
      fieldPath(path, "type"),
      `returnArg type ${JSON.stringify(arg.type)} is not supported by nsguard: a syscall returns a long (use an integer type such as int or long)`,
    );
  }
  const compiled: CompiledReturnArg = { kind: kind as CompiledReturnArg["kind"] };
  if (arg.label !== undefined) compiled.label = arg.label;
  return compiled;
}

// Each of these changes what is read or when; none has a meaning for a syscall hook yet.
function refuseArgOptions(policy: TracingPolicy, arg: KProbeArg, path: string): void {
  const set: [string, boolean][] = [
    ["resolve", arg.resolve !== ""],
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
