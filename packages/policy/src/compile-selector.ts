// SPDX-License-Identifier: Apache-2.0

import {
  KPROBE_ACTION_NOPOST,
  KPROBE_ACTION_POST,
  KPROBE_ACTION_SIGKILL,
  type PolicyMode,
  type SelectorTable,
} from "./compiled-policy-types.js";
import { MAX_PID_VALUES } from "./crd-limits.js";
import { fieldPath, itemPath } from "./field-path.js";
import { ACTION_FIELDS } from "./read-action-selector.js";
import { SELECTOR_FIELDS } from "./read-selector.js";
import { policyErrorAt } from "./source-locations.js";
import type { ActionSelector, KProbeSelector, TracingPolicy } from "./tracing-policy-types.js";

// The filters the kernel table (struct nsguard_selector) can express today are matchPIDs and the
// action; every other filter would narrow or widen what matches, so compiling a policy that uses one
// as if it were absent would enforce something the author did not write.
const SUPPORTED: readonly string[] = ["label", "matchPIDs", "matchActions"];
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

/** Compiles `selectors[i]` of a hook into one row of the kernel table. */
export function compileSelector(
  policy: TracingPolicy,
  selector: KProbeSelector,
  path: string,
  mode: PolicyMode,
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

  const actions = compileActions(policy, selector.matchActions ?? [], fieldPath(path, "matchActions"), mode);
  table.action = actions.action;
  if (actions.monitorOnly) table.monitorOnly = true;
  if (selector.label !== undefined) table.label = selector.label;
  return table;
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
