// SPDX-License-Identifier: Apache-2.0

import { NSGUARD_MAX_RETURN_ARG_FILTERS } from "@nsguard/kernel-contract";
import {
  type ArgFilterTable,
  type BinaryFilterTable,
  type CapabilityFilterTable,
  type CompiledArg,
  type CompiledArgKind,
  type CompiledReturnArg,
  type IntArgFilterTable,
  KPROBE_ACTION_NOPOST,
  KPROBE_ACTION_POST,
  KPROBE_ACTION_SIGKILL,
  KPROBE_ACTION_SIGNAL,
  type NamespaceFilterTable,
  type NamespaceKindsTable,
  type PolicyMode,
  type ReturnAction,
  type SelectorTable,
  type StringOp,
} from "./compiled-policy-types.js";
import { CAPABILITY_NAMES, CAPABILITY_TYPES, NAMESPACE_NAMES } from "./crd-enums.js";
import {
  MAX_ARG_VALUES,
  MAX_CAPABILITY_SELECTORS,
  MAX_MATCH_ARGS,
  MAX_NAMESPACE_INUM_VALUES,
  MAX_PID_VALUES,
  MAX_STRING_BYTES,
} from "./crd-limits.js";
import { fieldPath, itemPath } from "./field-path.js";
import { ACTION_FIELDS } from "./read-action-selector.js";
import { SELECTOR_FIELDS } from "./read-selector.js";
import { policyErrorAt } from "./source-locations.js";
import type {
  ActionSelector,
  ArgSelector,
  BinarySelector,
  CapabilitiesSelector,
  KProbeSelector,
  NamespaceChangesSelector,
  NamespaceSelector,
  TracingPolicy,
} from "./tracing-policy-types.js";

// Checked at the call's return (hooks with return: true only).
const RETURN_FILTERS = ["matchReturnArgs", "matchReturnActions"] as const;

// The filters the kernel table (struct nsguard_selector) can express; every other filter would
// narrow or widen what matches, so compiling a policy that uses one as if it were absent would
// enforce something the author did not write.
const SUPPORTED: readonly string[] = [
  "label",
  "matchPIDs",
  "matchArgs",
  "matchActions",
  "matchBinaries",
  "matchNamespaces",
  "matchNamespaceChanges",
  "matchCapabilities",
  "matchCapabilityChanges",
  "matchHostNamespaceEntry",
  ...RETURN_FILTERS,
];
const UNSUPPORTED_FILTERS = SELECTOR_FIELDS.filter((field) => !SUPPORTED.includes(field));

// Post's parameters: rate limiting is done in the kernel; stack traces and IMA hashes need kprobes.
const POST_RATE_OPTIONS = ["rateLimit", "rateLimitScope"] as const;
const POST_UNSUPPORTED_OPTIONS = ["kernelStackTrace", "userStackTrace", "imaHash"] as const;
const POST_OPTIONS = [...POST_RATE_OPTIONS, ...POST_UNSUPPORTED_OPTIONS] as const;
const OTHER_PARAMETERS = ACTION_FIELDS.filter(
  (field) => field !== "action" && field !== "argSig" && !(POST_OPTIONS as readonly string[]).includes(field),
);

const OVERRIDE_IMPOSSIBLE =
  "Override cannot work on this kernel class: it has no kprobes, no CONFIG_BPF_KPROBE_OVERRIDE and no BPF LSM, so a syscall cannot be blocked; use Sigkill to kill the caller (the syscall itself still completes)";

/** Compiles `selectors[i]` of a hook (whose compiled `args` give argument types) into one row of the kernel table. */
export function compileSelector(
  policy: TracingPolicy,
  selector: KProbeSelector,
  path: string,
  mode: PolicyMode,
  hookArgs: readonly CompiledArg[],
  returnArg?: CompiledReturnArg,
): SelectorTable {
  for (const filter of UNSUPPORTED_FILTERS) {
    if (isSet(selector[filter]))
      throw policyErrorAt(policy, fieldPath(path, filter), "not supported by nsguard yet");
  }

  const table: SelectorTable = { action: KPROBE_ACTION_POST };
  const pidsPath = fieldPath(path, "matchPIDs");
  const [pids, secondPids] = selector.matchPIDs ?? [];
  if (secondPids !== undefined) {
    // Tetragon ANDs several entries; struct nsguard_selector holds one PID filter.
    throw policyErrorAt(
      policy,
      itemPath(pidsPath, 1),
      "more than one matchPIDs entry per selector is not supported by nsguard yet",
    );
  }
  if (pids !== undefined) {
    if (pids.values.length > MAX_PID_VALUES) {
      throw policyErrorAt(
        policy,
        fieldPath(itemPath(pidsPath, 0), "values"),
        `has ${pids.values.length} PIDs, at most ${MAX_PID_VALUES} allowed in one matchPIDs entry`,
      );
    }
    table.pids = {
      op: pids.operator,
      isNamespacePid: pids.isNamespacePID,
      followForks: pids.followForks,
      values: [...pids.values],
    };
  }

  const argFilters = compileMatchArgs(
    policy,
    selector.matchArgs ?? [],
    fieldPath(path, "matchArgs"),
    hookArgs,
  );
  if (argFilters.length > 0) table.args = argFilters;

  const [binaries] = selector.matchBinaries ?? [];
  if (binaries !== undefined) {
    table.binary = compileBinaries(policy, binaries, itemPath(fieldPath(path, "matchBinaries"), 0));
  }
  const namespaces = (selector.matchNamespaces ?? []).map((entry, i) =>
    compileNamespaces(policy, entry, itemPath(fieldPath(path, "matchNamespaces"), i)),
  );
  if (namespaces.length > 0) table.namespaces = namespaces;
  const [nsChanges] = selector.matchNamespaceChanges ?? [];
  if (nsChanges !== undefined) {
    table.namespaceChanges = namespaceKinds(
      policy,
      nsChanges,
      itemPath(fieldPath(path, "matchNamespaceChanges"), 0),
    );
  }
  const [hostEntry] = selector.matchHostNamespaceEntry ?? [];
  if (hostEntry !== undefined) {
    table.hostNamespaceEntry = namespaceKinds(
      policy,
      hostEntry,
      itemPath(fieldPath(path, "matchHostNamespaceEntry"), 0),
    );
  }
  const capabilities = compileCapabilities(
    policy,
    selector.matchCapabilities ?? [],
    fieldPath(path, "matchCapabilities"),
  );
  if (capabilities.length > 0) table.capabilities = capabilities;
  const capabilityChanges = compileCapabilities(
    policy,
    selector.matchCapabilityChanges ?? [],
    fieldPath(path, "matchCapabilityChanges"),
  );
  if (capabilityChanges.length > 0) table.capabilityChanges = capabilityChanges;

  for (const filter of RETURN_FILTERS) {
    if (returnArg === undefined && isSet(selector[filter])) {
      throw policyErrorAt(policy, fieldPath(path, filter), "is only used by hooks with return: true");
    }
  }
  if (returnArg !== undefined) {
    const returnArgs = compileMatchReturnArgs(
      policy,
      selector.matchReturnArgs ?? [],
      fieldPath(path, "matchReturnArgs"),
      returnArg,
    );
    if (returnArgs.length > 0) table.returnArgs = returnArgs;
    const returnAction = compileReturnActions(
      policy,
      selector.matchReturnActions ?? [],
      fieldPath(path, "matchReturnActions"),
      mode,
    );
    if (returnAction.action !== KPROBE_ACTION_POST) table.returnAction = returnAction.action;
    if (returnAction.monitorOnly) table.monitorOnly = true;
  }

  const actions = compileActions(policy, selector.matchActions ?? [], fieldPath(path, "matchActions"), mode);
  table.action = actions.action;
  if (actions.signal !== undefined) table.signal = actions.signal;
  if (actions.rateLimit !== undefined) table.rateLimit = actions.rateLimit;
  if (actions.monitorOnly) table.monitorOnly = true;
  if (selector.label !== undefined) table.label = selector.label;
  return table;
}

const INTEGER_OPERATORS: readonly string[] = [
  "Equal",
  "NotEqual",
  "Mask",
  "GT",
  "LT",
] satisfies IntArgFilterTable["op"][];
const STRING_OPERATORS: readonly string[] = [
  "Equal",
  "NotEqual",
  "Prefix",
  "NotPrefix",
  "Postfix",
  "NotPostfix",
] satisfies StringOp[];
/** Values one string filter may have: they live in the kernel's string maps, not in the selector. */
const MAX_STRING_VALUES = 1024;

/**
 * matchArgs. As in Tetragon, `index` names a function argument the hook's `args` declare, and
 * that declaration's type says how the value is compared: integers (values in any base
 * strconv.ParseInt(v, 0, 64) reads: decimal, 0x…, 0o…/0…, 0b…), or strings — a string or filename
 * from user memory, the path of an fd's open file, a char_buf's bytes.
 */
function compileMatchArgs(
  policy: TracingPolicy,
  entries: readonly ArgSelector[],
  path: string,
  hookArgs: readonly CompiledArg[],
): ArgFilterTable[] {
  if (entries.length > MAX_MATCH_ARGS) {
    throw policyErrorAt(policy, path, `has ${entries.length} entries, at most ${MAX_MATCH_ARGS} allowed`);
  }
  return entries.map((entry, i) => {
    const entryPath = itemPath(path, i);
    if (entry.args !== undefined) {
      throw policyErrorAt(policy, fieldPath(entryPath, "args"), "not supported by nsguard yet");
    }
    const index = entry.index ?? 0;
    const arg = hookArgs.find((a) => a.index === index);
    if (arg === undefined) {
      throw policyErrorAt(
        policy,
        fieldPath(entryPath, "index"),
        `the hook's args declare no argument with index ${index}; matchArgs reads its type from there`,
      );
    }
    if (arg.stringSlot !== undefined) {
      if (!STRING_OPERATORS.includes(entry.operator)) {
        throw policyErrorAt(
          policy,
          fieldPath(entryPath, "operator"),
          `operator ${entry.operator} on a ${arg.kind === "file_arg" ? "file" : "string"} argument is not supported by nsguard (supported: ${STRING_OPERATORS.join(", ")})`,
        );
      }
      const op = entry.operator as StringOp;
      return {
        type: "string",
        op,
        index,
        stringSlot: arg.stringSlot,
        values: stringValues(policy, entry.values ?? [], fieldPath(entryPath, "values"), op),
      };
    }
    return intArgFilter(policy, entry, entryPath, index, arg.kind, "an integer argument");
  });
}

/** One matchArgs / matchReturnArgs entry on an integer of `kind` (the value's width and signedness). */
function intArgFilter(
  policy: TracingPolicy,
  entry: ArgSelector,
  entryPath: string,
  index: number,
  kind: CompiledArgKind,
  what: string,
): IntArgFilterTable {
  if (!INTEGER_OPERATORS.includes(entry.operator)) {
    throw policyErrorAt(
      policy,
      fieldPath(entryPath, "operator"),
      `operator ${entry.operator} on ${what} is not supported by nsguard (supported: ${INTEGER_OPERATORS.join(", ")})`,
    );
  }
  const op = entry.operator as IntArgFilterTable["op"];
  const values = entry.values ?? [];
  const max = op === "GT" || op === "LT" ? 1 : MAX_ARG_VALUES;
  if (values.length === 0 || values.length > max) {
    throw policyErrorAt(
      policy,
      fieldPath(entryPath, "values"),
      `has ${values.length} values; ${op} takes ${max === 1 ? "exactly 1" : `1 to ${max}`} in nsguard`,
    );
  }
  const width32 = kind === "int_arg" || kind === "uint_arg";
  const signed = kind === "int_arg" || kind === "long_arg";
  return {
    type: "int",
    op,
    index,
    values: values.map((text, j) =>
      integerValue(policy, text, itemPath(fieldPath(entryPath, "values"), j), width32, signed),
    ),
    width32,
    signed,
  };
}

/**
 * matchReturnArgs: filters on the syscall's return value, typed by the hook's `returnArg`, checked
 * at the return when the rest of the selector matched the call. Integer operators only: a
 * syscall returns a long (Tetragon's Prefix/Postfix are for kernel functions returning strings).
 */
function compileMatchReturnArgs(
  policy: TracingPolicy,
  entries: readonly ArgSelector[],
  path: string,
  returnArg: CompiledReturnArg,
): IntArgFilterTable[] {
  if (entries.length > NSGUARD_MAX_RETURN_ARG_FILTERS) {
    throw policyErrorAt(
      policy,
      path,
      `has ${entries.length} entries, at most ${NSGUARD_MAX_RETURN_ARG_FILTERS} allowed in nsguard`,
    );
  }
  return entries.map((entry, i) => {
    const entryPath = itemPath(path, i);
    // There is one return value: index 0 (the default) is the only one to name.
    if (entry.args !== undefined) {
      throw policyErrorAt(
        policy,
        fieldPath(entryPath, "args"),
        "not used by matchReturnArgs: it compares the return value",
      );
    }
    if ((entry.index ?? 0) !== 0) {
      throw policyErrorAt(
        policy,
        fieldPath(entryPath, "index"),
        "must be 0: matchReturnArgs compares the return value",
      );
    }
    return intArgFilter(policy, entry, entryPath, 0, returnArg.kind, "the return value");
  });
}

const RETURN_ACTIONS: Partial<Record<ActionSelector["action"], ReturnAction>> = {
  Post: KPROBE_ACTION_POST,
  NoPost: KPROBE_ACTION_NOPOST,
  Sigkill: KPROBE_ACTION_SIGKILL,
};

/** matchReturnActions: Post (the default), NoPost, or Sigkill (the caller dies before it sees the result). */
function compileReturnActions(
  policy: TracingPolicy,
  actions: readonly ActionSelector[],
  path: string,
  mode: PolicyMode,
): { action: ReturnAction; monitorOnly: boolean } {
  const [first, second] = actions;
  if (second !== undefined) {
    throw policyErrorAt(policy, itemPath(path, 1), "nsguard takes one action in matchReturnActions");
  }
  if (first === undefined) return { action: KPROBE_ACTION_POST, monitorOnly: false };
  const actionPath = itemPath(path, 0);
  const action = RETURN_ACTIONS[first.action];
  if (action === undefined) {
    throw policyErrorAt(
      policy,
      fieldPath(actionPath, "action"),
      `action ${first.action} in matchReturnActions is not supported by nsguard (supported: Post, NoPost, Sigkill)`,
    );
  }
  // rateLimit belongs to matchActions' Post, which these hooks apply at the return.
  refuseParameters(policy, first, actionPath, [...POST_OPTIONS, ...OTHER_PARAMETERS, "argSig"]);
  // Monitor mode keeps the event and drops the kill, as for matchActions.
  if (action === KPROBE_ACTION_SIGKILL && mode === "monitor") {
    return { action: KPROBE_ACTION_POST, monitorOnly: true };
  }
  return { action, monitorOnly: false };
}

const utf8 = new TextEncoder();

/**
 * String values as the kernel compares them: at most MAX_STRING_BYTES bytes (Equal one less, for
 * the NUL it compares too). Tetragon's examples end Equal values with "\0"; one trailing NUL is
 * dropped so those policies mean the same here.
 */
function stringValues(
  policy: TracingPolicy,
  values: readonly string[],
  path: string,
  op: StringOp,
): string[] {
  if (values.length === 0 || values.length > MAX_STRING_VALUES) {
    throw policyErrorAt(policy, path, `has ${values.length} values; 1 to ${MAX_STRING_VALUES} allowed`);
  }
  const equal = op === "Equal" || op === "NotEqual";
  const max = equal ? MAX_STRING_BYTES - 1 : MAX_STRING_BYTES;
  return values.map((raw, i) => {
    const value = equal && raw.endsWith("\0") ? raw.slice(0, -1) : raw;
    if (value.includes("\0")) {
      throw policyErrorAt(policy, itemPath(path, i), "a string value cannot contain a NUL byte");
    }
    const bytes = utf8.encode(value).length;
    if (bytes > max) {
      throw policyErrorAt(
        policy,
        itemPath(path, i),
        `is ${bytes} bytes; the kernel compares at most ${max} bytes for ${op}`,
      );
    }
    return value;
  });
}

const BINARY_OPS: Record<BinarySelector["operator"], StringOp> = {
  In: "Equal",
  NotIn: "NotEqual",
  Prefix: "Prefix",
  NotPrefix: "NotPrefix",
  Postfix: "Postfix",
  NotPostfix: "NotPostfix",
};

/** matchBinaries: the exec'd binary's path (the interpreter for scripts), as the kernel saw the exec. */
function compileBinaries(policy: TracingPolicy, entry: BinarySelector, path: string): BinaryFilterTable {
  const op = BINARY_OPS[entry.operator];
  return {
    op,
    values: stringValues(policy, entry.values, fieldPath(path, "values"), op),
    followChildren: entry.followChildren,
  };
}

function compileNamespaces(
  policy: TracingPolicy,
  entry: NamespaceSelector,
  path: string,
): NamespaceFilterTable {
  const inums = entry.values.filter((v) => v !== "host_ns").map(Number);
  if (inums.length > MAX_NAMESPACE_INUM_VALUES) {
    throw policyErrorAt(
      policy,
      fieldPath(path, "values"),
      `has ${inums.length} inode numbers, at most ${MAX_NAMESPACE_INUM_VALUES} besides host_ns in nsguard`,
    );
  }
  return {
    kind: NAMESPACE_NAMES.indexOf(entry.namespace),
    op: entry.operator,
    values: inums,
    host: entry.values.includes("host_ns"),
  };
}

/** matchNamespaceChanges / matchHostNamespaceEntry kinds as bits 1 << enum nsguard_ns_index. */
function namespaceKinds(
  policy: TracingPolicy,
  entry: NamespaceChangesSelector,
  path: string,
): NamespaceKindsTable {
  if (entry.values.length === 0) throw policyErrorAt(policy, fieldPath(path, "values"), "names no namespace");
  let kinds = 0;
  for (const name of entry.values) kinds |= 1 << NAMESPACE_NAMES.indexOf(name);
  return { op: entry.operator, kinds };
}

function compileCapabilities(
  policy: TracingPolicy,
  entries: readonly CapabilitiesSelector[],
  path: string,
): CapabilityFilterTable[] {
  if (entries.length > MAX_CAPABILITY_SELECTORS) {
    throw policyErrorAt(
      policy,
      path,
      `has ${entries.length} entries, at most ${MAX_CAPABILITY_SELECTORS} allowed in nsguard`,
    );
  }
  return entries.map((entry, i) => {
    if (entry.values.length === 0) {
      throw policyErrorAt(policy, fieldPath(itemPath(path, i), "values"), "names no capability");
    }
    let mask = 0n;
    for (const name of entry.values) mask |= 1n << BigInt(CAPABILITY_NAMES.indexOf(name));
    return {
      set: CAPABILITY_TYPES.indexOf(entry.type),
      op: entry.operator,
      isNamespaceCapability: entry.isNamespaceCapability,
      mask,
    };
  });
}

const INTEGER_SYNTAX = /^[+-]?(0[xX][0-9a-fA-F]+|0[oO]?[0-7]+|0[bB][01]+|[1-9][0-9]*|0)$/;

/** One matchArgs value as the 64-bit pattern the kernel compares (two's complement when negative). */
function integerValue(
  policy: TracingPolicy,
  text: string,
  path: string,
  width32: boolean,
  signed: boolean,
): bigint {
  const trimmed = text.trim();
  if (!INTEGER_SYNTAX.test(trimmed)) {
    throw policyErrorAt(policy, path, `${JSON.stringify(text)} is not an integer`);
  }
  const negative = trimmed.startsWith("-");
  let digits = trimmed.replace(/^[+-]/, "");
  // ParseInt's base 0 reads a leading 0 as octal; BigInt needs the 0o prefix for that.
  if (/^0[0-7]+$/.test(digits)) digits = `0o${digits.slice(1)}`;
  const magnitude = BigInt(digits);
  const value = negative ? -magnitude : magnitude;
  const bits = width32 ? 32n : 64n;
  const min = signed ? -(1n << (bits - 1n)) : 0n;
  const max = signed ? (1n << (bits - 1n)) - 1n : (1n << bits) - 1n;
  // Masks are bit patterns: an unsigned spelling of a signed argument's bits is fine.
  if (value < min || value > (signed ? (1n << bits) - 1n : max)) {
    throw policyErrorAt(
      policy,
      path,
      `${text} is out of range for ${signed ? "a signed" : "an unsigned"} ${bits}-bit argument`,
    );
  }
  // A value above the signed maximum is the pattern of a negative one: sign-extend it, as the
  // kernel sign-extends the argument.
  const normalized = signed && value > max ? value - (1n << bits) : value;
  return BigInt.asUintN(64, normalized);
}

interface CompiledActions {
  action: SelectorTable["action"];
  signal?: number;
  rateLimit?: SelectorTable["rateLimit"];
  monitorOnly: boolean;
}

const RATE_UNITS: Record<string, bigint> = { "": 1n, s: 1n, m: 60n, h: 3600n };
const NS_PER_SECOND = 1_000_000_000n;
/** Highest signal number bpf_send_signal accepts (SIGRTMAX on Linux). */
const MAX_SIGNAL = 64;

function compileActions(
  policy: TracingPolicy,
  actions: readonly ActionSelector[],
  path: string,
  mode: PolicyMode,
): CompiledActions {
  let post = false;
  let kill = false;
  let noPost = false;
  let signal: number | undefined;
  let rateLimit: SelectorTable["rateLimit"];
  actions.forEach((action, i) => {
    const actionPath = itemPath(path, i);
    switch (action.action) {
      case "Post":
        for (const option of POST_UNSUPPORTED_OPTIONS) {
          if (isSet(action[option])) {
            throw policyErrorAt(
              policy,
              fieldPath(actionPath, option),
              `${option} needs a kprobe or LSM hook; nsguard hooks syscalls through tracepoints, which cannot provide it`,
            );
          }
        }
        refuseParameters(policy, action, actionPath, [...OTHER_PARAMETERS, "argSig"]);
        if (action.rateLimit !== undefined) {
          const [, count = "0", unit = ""] = /^([0-9]+)([smh]?)$/.exec(action.rateLimit) ?? [];
          const seconds = BigInt(count) * (RATE_UNITS[unit] ?? 1n);
          if (seconds === 0n) {
            throw policyErrorAt(policy, fieldPath(actionPath, "rateLimit"), "must be at least 1 second");
          }
          rateLimit = { intervalNs: seconds * NS_PER_SECOND, scope: action.rateLimitScope ?? "thread" };
        } else if (action.rateLimitScope !== undefined) {
          throw policyErrorAt(policy, fieldPath(actionPath, "rateLimitScope"), "is only used with rateLimit");
        }
        post = true;
        break;
      case "Sigkill":
        refuseParameters(policy, action, actionPath, [...POST_OPTIONS, ...OTHER_PARAMETERS, "argSig"]);
        kill = true;
        break;
      case "Signal": {
        refuseParameters(policy, action, actionPath, [...POST_OPTIONS, ...OTHER_PARAMETERS]);
        const sig = action.argSig;
        if (sig === undefined || !Number.isInteger(sig) || sig < 1 || sig > MAX_SIGNAL) {
          throw policyErrorAt(
            policy,
            fieldPath(actionPath, "argSig"),
            sig === undefined
              ? "the Signal action needs argSig, the signal number to send"
              : `${sig} is not a signal number (1 to ${MAX_SIGNAL})`,
          );
        }
        signal = sig;
        break;
      }
      case "NoPost":
        refuseParameters(policy, action, actionPath, [...POST_OPTIONS, ...OTHER_PARAMETERS, "argSig"]);
        noPost = true;
        break;
      case "Override":
        throw policyErrorAt(policy, fieldPath(actionPath, "action"), OVERRIDE_IMPOSSIBLE);
      default:
        throw policyErrorAt(
          policy,
          fieldPath(actionPath, "action"),
          `action ${action.action} is not supported by nsguard yet`,
        );
    }
  });

  if (noPost && post) {
    throw policyErrorAt(policy, path, "Post and NoPost contradict each other in one selector");
  }
  if (kill && signal !== undefined) {
    throw policyErrorAt(
      policy,
      path,
      "Sigkill and Signal in one selector: the kernel sends one signal per call",
    );
  }
  if (noPost && (kill || signal !== undefined)) {
    // The table has one action per selector and a signal is always reported, like Tetragon's
    // KPROBE_ACTION_SIGKILL events; a silent one has no encoding.
    throw policyErrorAt(
      policy,
      path,
      `${kill ? "Sigkill" : "Signal"} together with NoPost is not supported by nsguard (every signal sent is posted)`,
    );
  }
  if (rateLimit !== undefined && (kill || signal !== undefined)) {
    throw policyErrorAt(
      policy,
      path,
      "rateLimit with Sigkill or Signal is not supported by nsguard: every enforcement is posted",
    );
  }
  if (kill || signal !== undefined) {
    // Monitor mode keeps the event and drops the enforcement (Tetragon counts it as monitor_signal).
    if (mode === "monitor") return { action: KPROBE_ACTION_POST, monitorOnly: true };
    return kill
      ? { action: KPROBE_ACTION_SIGKILL, monitorOnly: false }
      : { action: KPROBE_ACTION_SIGNAL, signal, monitorOnly: false };
  }
  if (noPost) return { action: KPROBE_ACTION_NOPOST, monitorOnly: false };
  // No matchActions at all means Post, as in Tetragon.
  return rateLimit === undefined
    ? { action: KPROBE_ACTION_POST, monitorOnly: false }
    : { action: KPROBE_ACTION_POST, rateLimit, monitorOnly: false };
}

// A parameter that belongs to another action would be ignored by Tetragon; `Sigkill` with `argSig: 15`
// reads like a different signal, so it is refused instead.
function refuseParameters(
  policy: TracingPolicy,
  action: ActionSelector,
  path: string,
  names: readonly (keyof ActionSelector)[],
): void {
  for (const name of names) {
    if (isSet(action[name])) {
      throw policyErrorAt(
        policy,
        fieldPath(path, name),
        `${name} is not used by the ${action.action} action`,
      );
    }
  }
}

function isSet(value: unknown): boolean {
  if (value === undefined || value === false) return false;
  if (Array.isArray(value)) return value.length > 0;
  return true;
}
