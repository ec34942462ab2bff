// SPDX-License-Identifier: Apache-2.0

import {
  type ArgFilterTable,
  type CompiledArg,
  KPROBE_ACTION_NOPOST,
  KPROBE_ACTION_POST,
  KPROBE_ACTION_SIGKILL,
  type PolicyMode,
  type SelectorTable,
} from "./compiled-policy-types.js";
import { MAX_ARG_VALUES, MAX_MATCH_ARGS, MAX_PID_VALUES } from "./crd-limits.js";
import { fieldPath, itemPath } from "./field-path.js";
import { ACTION_FIELDS } from "./read-action-selector.js";
import { SELECTOR_FIELDS } from "./read-selector.js";
import { policyErrorAt } from "./source-locations.js";
import type { ActionSelector, ArgSelector, KProbeSelector, TracingPolicy } from "./tracing-policy-types.js";

// The filters the kernel table (struct nsguard_selector) can express today are matchPIDs, matchArgs on
// integer arguments and the action; every other filter would narrow or widen what matches, so
// compiling a policy that uses one as if it were absent would enforce something the author did not write.
const SUPPORTED: readonly string[] = ["label", "matchPIDs", "matchArgs", "matchActions"];
const UNSUPPORTED_FILTERS = SELECTOR_FIELDS.filter((field) => !SUPPORTED.includes(field));

// Parameters of an action that select behaviour nsguard does not implement yet.
const POST_OPTIONS = [
  "rateLimit",
  "rateLimitScope",
  "kernelStackTrace",
  "userStackTrace",
  "imaHash",
] as const;
const OTHER_PARAMETERS = ACTION_FIELDS.filter(
  (field) => field !== "action" && !(POST_OPTIONS as readonly string[]).includes(field),
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

  const actions = compileActions(policy, selector.matchActions ?? [], fieldPath(path, "matchActions"), mode);
  table.action = actions.action;
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
] satisfies ArgFilterTable["op"][];

/**
 * matchArgs on integer arguments. As in Tetragon, `index` names a function argument the hook's
 * `args` declare, and that declaration's type says how wide and signed the value is; values are
 * integers in any base strconv.ParseInt(v, 0, 64) reads (decimal, 0x…, 0o…/0…, 0b…).
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
    if (arg.kind === "fd") {
      throw policyErrorAt(
        policy,
        fieldPath(entryPath, "index"),
        "matchArgs on an fd argument compares the file's path, which nsguard does not read yet",
      );
    }
    if (!INTEGER_OPERATORS.includes(entry.operator)) {
      throw policyErrorAt(
        policy,
        fieldPath(entryPath, "operator"),
        `operator ${entry.operator} on an integer argument is not supported by nsguard yet (supported: ${INTEGER_OPERATORS.join(", ")})`,
      );
    }
    const op = entry.operator as ArgFilterTable["op"];
    const values = entry.values ?? [];
    const max = op === "GT" || op === "LT" ? 1 : MAX_ARG_VALUES;
    if (values.length === 0 || values.length > max) {
      throw policyErrorAt(
        policy,
        fieldPath(entryPath, "values"),
        `has ${values.length} values; ${op} takes ${max === 1 ? "exactly 1" : `1 to ${max}`} in nsguard`,
      );
    }
    const width32 = arg.kind === "int_arg" || arg.kind === "uint_arg";
    const signed = arg.kind === "int_arg" || arg.kind === "long_arg";
    return {
      op,
      index,
      values: values.map((text, j) =>
        integerValue(policy, text, itemPath(fieldPath(entryPath, "values"), j), width32, signed),
      ),
      width32,
      signed,
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
  monitorOnly: boolean;
}

function compileActions(
  policy: TracingPolicy,
  actions: readonly ActionSelector[],
  path: string,
  mode: PolicyMode,
): CompiledActions {
  let post = false;
  let kill = false;
  let noPost = false;
  actions.forEach((action, i) => {
    const actionPath = itemPath(path, i);
    switch (action.action) {
      case "Post":
        for (const option of POST_OPTIONS) {
          if (isSet(action[option])) {
            throw policyErrorAt(policy, fieldPath(actionPath, option), "not supported by nsguard yet");
          }
        }
        refuseParameters(policy, action, actionPath, OTHER_PARAMETERS);
        post = true;
        break;
      case "Sigkill":
        refuseParameters(policy, action, actionPath, [...POST_OPTIONS, ...OTHER_PARAMETERS]);
        kill = true;
        break;
      case "NoPost":
        refuseParameters(policy, action, actionPath, [...POST_OPTIONS, ...OTHER_PARAMETERS]);
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
  if (noPost && kill) {
    // The table has one action per selector and a kill is always reported, like Tetragon's
    // KPROBE_ACTION_SIGKILL events; a silent kill has no encoding yet.
    throw policyErrorAt(
      policy,
      path,
      "Sigkill together with NoPost is not supported by nsguard yet (every kill is posted)",
    );
  }
  if (kill) {
    // Monitor mode keeps the event and drops the enforcement (Tetragon counts it as monitor_signal).
    return mode === "monitor"
      ? { action: KPROBE_ACTION_POST, monitorOnly: true }
      : { action: KPROBE_ACTION_SIGKILL, monitorOnly: false };
  }
  if (noPost) return { action: KPROBE_ACTION_NOPOST, monitorOnly: false };
  // No matchActions at all means Post, as in Tetragon.
  return { action: KPROBE_ACTION_POST, monitorOnly: false };
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
