// SPDX-License-Identifier: Apache-2.0

import { LABEL_SELECTOR_OPERATORS } from "./crd-enums.js";
import { MAX_LABEL_VALUE_LENGTH } from "./crd-limits.js";
import type { LabelSelector, LabelSelectorRequirement } from "./tracing-policy-types.js";
import type { MapView, YamlReader } from "./yaml-reader.js";

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** A Kubernetes label selector (podSelector, containerSelector, hostSelector, nodeSelector). */
export function readLabelSelector(reader: YamlReader, node: unknown, path: string): LabelSelector {
  const view = reader.map(node, path).allow(["matchLabels", "matchExpressions"]);
  const selector: LabelSelector = {};
  const matchLabels = view.mapOf("matchLabels", (item, p) => {
    const value = reader.string(item, p);
    if (value.length > MAX_LABEL_VALUE_LENGTH || !LABEL_VALUE.test(value)) {
      reader.fail(
        p,
        `invalid label value ${JSON.stringify(value)}: at most ${MAX_LABEL_VALUE_LENGTH} characters of letters, digits, '-', '_' and '.', starting and ending with a letter or digit`,
        item,
      );
    }
    return value;
  });
  if (matchLabels !== undefined) selector.matchLabels = matchLabels;
  const matchExpressions = view.list("matchExpressions", (item, p) => readRequirement(reader.map(item, p)));
  if (matchExpressions !== undefined) selector.matchExpressions = matchExpressions;
  return selector;
}

function readRequirement(view: MapView): LabelSelectorRequirement {
  view.allow(["key", "operator", "values"]);
  const requirement: LabelSelectorRequirement = {
    key: view.requiredString("key"),
    operator: view.enumValue("operator", LABEL_SELECTOR_OPERATORS) ?? view.missing("operator"),
  };
  const values = view.stringList("values");
  if (values !== undefined) requirement.values = values;
  // The same rule Kubernetes applies when it turns the selector into a matcher.
  const needsValues = requirement.operator === "In" || requirement.operator === "NotIn";
  const count = values?.length ?? 0;
  if (needsValues && count === 0) {
    view.reader.fail(
      view.child("values"),
      `must not be empty when operator is ${requirement.operator}`,
      view.node,
    );
  }
  if (!needsValues && count > 0) {
    view.reader.fail(
      view.child("values"),
      `must be empty when operator is ${requirement.operator}`,
      view.value("values"),
    );
  }
  return requirement;
}

/** True when a label selector selects nothing in particular (`{}`). */
export function isEmptyLabelSelector(selector: LabelSelector): boolean {
  return (
    Object.keys(selector.matchLabels ?? {}).length === 0 && (selector.matchExpressions ?? []).length === 0
  );
}
