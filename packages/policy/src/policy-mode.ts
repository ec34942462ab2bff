// SPDX-License-Identifier: Apache-2.0

import type { PolicyMode } from "./compiled-policy-types.js";
import { fieldPath, itemPath } from "./field-path.js";
import { policyErrorAt } from "./source-locations.js";
import type { TracingPolicy } from "./tracing-policy-types.js";

// spec.options: Tetragon knows three. `policy-mode` changes what nsguard does; the two kprobe_multi /
// uprobe_multi switches choose between attach mechanisms nsguard never uses, so they are accepted and
// have nothing to change. Anything else is refused rather than ignored.

const MODES: readonly PolicyMode[] = ["enforce", "monitor"];
const BOOLEAN_OPTIONS = ["disable-kprobe-multi", "disable-uprobe-multi"];
// Go's strconv.ParseBool, which Tetragon uses for its boolean options.
const GO_BOOLEANS = ["1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"];

/**
 * The policy's mode: `override` when given (as `tetra tracingpolicy add --mode` rewrites the YAML),
 * else the `policy-mode` option, else enforce. Validates every option on the way.
 */
export function resolvePolicyMode(policy: TracingPolicy, override?: PolicyMode): PolicyMode {
  let fromOptions: PolicyMode | undefined;
  const seen = new Set<string>();
  (policy.spec.options ?? []).forEach((option, i) => {
    const path = itemPath("spec.options", i);
    if (seen.has(option.name)) {
      throw policyErrorAt(
        policy,
        fieldPath(path, "name"),
        `option ${JSON.stringify(option.name)} is set more than once`,
      );
    }
    seen.add(option.name);
    const value = option.value ?? "";
    if (option.name === "policy-mode") {
      const mode = MODES.find((m) => m === value);
      if (mode === undefined) {
        throw policyErrorAt(
          policy,
          fieldPath(path, "value"),
          `invalid policy-mode ${JSON.stringify(value)}; expected enforce or monitor`,
        );
      }
      fromOptions = mode;
    } else if (BOOLEAN_OPTIONS.includes(option.name)) {
      if (!GO_BOOLEANS.includes(value)) {
        throw policyErrorAt(
          policy,
          fieldPath(path, "value"),
          `invalid ${option.name} value ${JSON.stringify(value)}; expected true or false`,
        );
      }
    } else {
      throw policyErrorAt(
        policy,
        fieldPath(path, "name"),
        `unknown option ${JSON.stringify(option.name)}; expected one of policy-mode, ${BOOLEAN_OPTIONS.join(", ")}`,
      );
    }
  });
  return override ?? fromOptions ?? "enforce";
}
