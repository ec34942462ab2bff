// SPDX-License-Identifier: Apache-2.0

import type { Node } from "yaml";
import {
  ARG_OPERATOR_ALIASES,
  ARG_OPERATORS,
  BINARY_OPERATORS,
  CAPABILITY_NAMES,
  CAPABILITY_TYPES,
  type CapabilityName,
  CMD_ARG_OPERATORS,
  NAMESPACE_NAMES,
  SET_OPERATORS,
  STATE_OPERATORS,
} from "./crd-enums.js";
import {
  MAX_BINARY_SELECTORS,
  MAX_CMD_ARG_INDEX,
  MAX_MATCH_ARGS,
  MAX_NAMESPACE_CHANGE_SELECTORS,
  MAX_NAMESPACE_SELECTORS,
  MAX_NAMESPACE_VALUES,
  MAX_PID_VALUES,
  MAX_STATE_SELECTORS,
} from "./crd-limits.js";
import { readActionSelector } from "./read-action-selector.js";
import { readLabelSelector } from "./read-label-selector.js";
import type {
  ArgSelector,
  BinarySelector,
  CapabilitiesSelector,
  CmdArgSelector,
  KProbeSelector,
  NamespaceChangesSelector,
  NamespaceSelector,
  PIDSelector,
  StateSelector,
  UserCallerSelector,
  WorkloadSelector,
} from "./tracing-policy-types.js";
import { type MapView, SAFE_INT, UINT32, type YamlReader } from "./yaml-reader.js";

/** Every field of a selector, as the CRD defines them. */
export const SELECTOR_FIELDS = [
  "label",
  "macros",
  "matchPIDs",
  "matchArgs",
  "matchData",
  "matchReturnArgs",
  "matchActions",
  "matchReturnActions",
  "matchBinaries",
  "matchParentBinaries",
  "matchNamespaces",
  "matchNamespaceChanges",
  "matchCapabilities",
  "matchCapabilityChanges",
  "matchCEL",
  "matchCmdArgs",
  "matchStates",
  "matchUserCallers",
  "matchWorkloads",
  // nsguard extension (not in Tetragon's CRD): see KProbeSelector.matchHostNamespaceEntry.
  "matchHostNamespaceEntry",
] as const;

/** One KProbeSelector (a hook's `selectors[i]` or a `selectorsMacros` entry). */
export function readSelector(reader: YamlReader, node: unknown, path: string): KProbeSelector {
  const view = reader.map(node, path).allow(SELECTOR_FIELDS);
  const selector: KProbeSelector = {};
  const label = view.string("label");
  if (label !== undefined) selector.label = label;
  const macros = view.stringList("macros");
  if (macros !== undefined) selector.macros = macros;

  const matchPIDs = view.list("matchPIDs", (item, p) => readPidSelector(reader.map(item, p)));
  if (matchPIDs !== undefined) selector.matchPIDs = matchPIDs;
  const matchArgs = view.list("matchArgs", (item, p) => readArgSelector(reader.map(item, p)), MAX_MATCH_ARGS);
  if (matchArgs !== undefined) selector.matchArgs = matchArgs;
  const matchData = view.list("matchData", (item, p) => readArgSelector(reader.map(item, p)));
  if (matchData !== undefined) selector.matchData = matchData;
  const matchReturnArgs = view.list("matchReturnArgs", (item, p) => readArgSelector(reader.map(item, p)));
  if (matchReturnArgs !== undefined) selector.matchReturnArgs = matchReturnArgs;
  const matchActions = view.list("matchActions", (item, p) => readActionSelector(reader, item, p));
  if (matchActions !== undefined) selector.matchActions = matchActions;
  const matchReturnActions = view.list("matchReturnActions", (item, p) =>
    readActionSelector(reader, item, p),
  );
  if (matchReturnActions !== undefined) selector.matchReturnActions = matchReturnActions;
  const matchBinaries = view.list(
    "matchBinaries",
    (item, p) => readBinarySelector(reader.map(item, p)),
    MAX_BINARY_SELECTORS,
  );
  if (matchBinaries !== undefined) selector.matchBinaries = matchBinaries;
  const matchParentBinaries = view.list(
    "matchParentBinaries",
    (item, p) => readBinarySelector(reader.map(item, p)),
    MAX_BINARY_SELECTORS,
  );
  if (matchParentBinaries !== undefined) selector.matchParentBinaries = matchParentBinaries;
  const matchNamespaces = view.list(
    "matchNamespaces",
    (item, p) => readNamespaceSelector(reader.map(item, p)),
    MAX_NAMESPACE_SELECTORS,
  );
  if (matchNamespaces !== undefined) selector.matchNamespaces = matchNamespaces;
  const matchNamespaceChanges = view.list(
    "matchNamespaceChanges",
    (item, p) => readNamespaceChangesSelector(reader.map(item, p)),
    MAX_NAMESPACE_CHANGE_SELECTORS,
  );
  if (matchNamespaceChanges !== undefined) selector.matchNamespaceChanges = matchNamespaceChanges;
  const matchCapabilities = view.list("matchCapabilities", (item, p) =>
    readCapabilitiesSelector(reader.map(item, p)),
  );
  if (matchCapabilities !== undefined) selector.matchCapabilities = matchCapabilities;
  const matchCapabilityChanges = view.list("matchCapabilityChanges", (item, p) =>
    readCapabilitiesSelector(reader.map(item, p)),
  );
  if (matchCapabilityChanges !== undefined) selector.matchCapabilityChanges = matchCapabilityChanges;
  const matchHostNamespaceEntry = view.list(
    "matchHostNamespaceEntry",
    (item, p) => readNamespaceChangesSelector(reader.map(item, p)),
    MAX_NAMESPACE_CHANGE_SELECTORS,
  );
  if (matchHostNamespaceEntry !== undefined) selector.matchHostNamespaceEntry = matchHostNamespaceEntry;
  const matchCEL = view.object("matchCEL", (cel) => {
    cel.allow(["expr"]);
    const expr = cel.requiredString("expr");
    if (expr.length === 0) reader.fail(cel.child("expr"), "must not be empty", cel.value("expr"));
    return { expr };
  });
  if (matchCEL !== undefined) selector.matchCEL = matchCEL;
  const matchCmdArgs = view.list("matchCmdArgs", (item, p) => readCmdArgSelector(reader.map(item, p)));
  if (matchCmdArgs !== undefined) selector.matchCmdArgs = matchCmdArgs;
  const matchStates = view.list(
    "matchStates",
    (item, p) => readStateSelector(reader.map(item, p)),
    MAX_STATE_SELECTORS,
  );
  if (matchStates !== undefined) selector.matchStates = matchStates;
  const matchUserCallers = view.list("matchUserCallers", (item, p) =>
    readUserCallerSelector(reader.map(item, p)),
  );
  if (matchUserCallers !== undefined) selector.matchUserCallers = matchUserCallers;
  const matchWorkloads = view.object("matchWorkloads", readWorkloadSelector);
  if (matchWorkloads !== undefined) selector.matchWorkloads = matchWorkloads;
  return selector;
}

function readPidSelector(view: MapView): PIDSelector {
  view.allow(["operator", "values", "isNamespacePID", "followForks"]);
  const operator = view.enumValue("operator", SET_OPERATORS) ?? view.missing("operator");
  const values = view.intList("values", UINT32) ?? view.missing("values");
  if (values.length > MAX_PID_VALUES) {
    view.reader.fail(
      view.child("values"),
      `has ${values.length} PIDs, at most ${MAX_PID_VALUES} allowed in one matchPIDs entry`,
      view.value("values"),
    );
  }
  return {
    operator,
    values,
    isNamespacePID: view.bool("isNamespacePID") ?? false,
    followForks: view.bool("followForks") ?? false,
  };
}

function readArgSelector(view: MapView): ArgSelector {
  view.allow(["index", "args", "operator", "values"]);
  const selector: ArgSelector = {
    operator:
      view.enumValue("operator", ARG_OPERATORS, { aliases: ARG_OPERATOR_ALIASES }) ??
      view.missing("operator"),
  };
  const index = view.int("index", UINT32);
  if (index !== undefined) selector.index = index;
  const args = view.intList("args", UINT32);
  if (args !== undefined) selector.args = args;
  const values = view.stringList("values");
  if (values !== undefined) selector.values = values;
  return selector;
}

function readBinarySelector(view: MapView): BinarySelector {
  view.allow(["operator", "values", "followChildren"]);
  const selector: BinarySelector = {
    operator: view.enumValue("operator", BINARY_OPERATORS) ?? view.missing("operator"),
    values: view.stringList("values") ?? view.missing("values"),
    followChildren: view.bool("followChildren") ?? false,
  };
  if (selector.followChildren && selector.operator !== "In" && selector.operator !== "NotIn") {
    view.reader.fail(
      view.child("followChildren"),
      `followChildren works only with the In and NotIn operators (got ${selector.operator})`,
      view.value("followChildren"),
    );
  }
  return selector;
}

function readNamespaceSelector(view: MapView): NamespaceSelector {
  view.allow(["namespace", "operator", "values"]);
  const namespace =
    view.enumValue("namespace", NAMESPACE_NAMES, { what: "namespace", ignoreCase: true }) ??
    view.missing("namespace");
  const operator = view.enumValue("operator", SET_OPERATORS) ?? view.missing("operator");
  const values =
    view.list("values", (item, p) => {
      const value = view.reader.string(item, p);
      // An inode number (what /proc/<pid>/ns/<ns> points at) or the host's namespace.
      if (value !== "host_ns" && !(/^[0-9]+$/.test(value) && Number(value) <= UINT32.max)) {
        view.reader.fail(
          p,
          `invalid namespace ${JSON.stringify(value)}; expected an inode number or host_ns`,
          item,
        );
      }
      return value;
    }) ?? view.missing("values");
  if (values.length > MAX_NAMESPACE_VALUES) {
    view.reader.fail(
      view.child("values"),
      `has ${values.length} values, at most ${MAX_NAMESPACE_VALUES} allowed in one matchNamespaces entry`,
      view.value("values"),
    );
  }
  return { namespace, operator, values };
}

function readNamespaceChangesSelector(view: MapView): NamespaceChangesSelector {
  view.allow(["operator", "values"]);
  return {
    operator: view.enumValue("operator", SET_OPERATORS) ?? view.missing("operator"),
    values:
      view.list("values", (item, p) =>
        view.reader.enumValue(item, p, NAMESPACE_NAMES, { what: "namespace", ignoreCase: true }),
      ) ?? view.missing("values"),
  };
}

function readCapabilitiesSelector(view: MapView): CapabilitiesSelector {
  view.allow(["type", "operator", "isNamespaceCapability", "values"]);
  return {
    type: view.enumValue("type", CAPABILITY_TYPES) ?? "Effective",
    operator: view.enumValue("operator", SET_OPERATORS) ?? view.missing("operator"),
    isNamespaceCapability: view.bool("isNamespaceCapability") ?? false,
    values: view.list("values", (item, p) => readCapability(view.reader, item, p)) ?? view.missing("values"),
  };
}

function readCapability(reader: YamlReader, node: Node | null, path: string): CapabilityName {
  // Tetragon trims and upper-cases before the lookup. It only knows value 1 as DAC_OVERRIDE (the proto
  // enum's spelling); CAP_DAC_OVERRIDE is what everyone writes, so it is accepted as the same thing.
  const written = reader.string(node, path).trim().toUpperCase();
  const name = written === "CAP_DAC_OVERRIDE" ? "DAC_OVERRIDE" : written;
  const known = CAPABILITY_NAMES.find((c) => c === name);
  if (known !== undefined) return known;
  return reader.enumValue(node, path, CAPABILITY_NAMES, { what: "capability" });
}

function readCmdArgSelector(view: MapView): CmdArgSelector {
  view.allow(["index", "operator", "values"]);
  return {
    index: view.int("index", { min: 0, max: MAX_CMD_ARG_INDEX }) ?? view.missing("index"),
    operator: view.enumValue("operator", CMD_ARG_OPERATORS) ?? view.missing("operator"),
    values: view.stringList("values") ?? view.missing("values"),
  };
}

function readStateSelector(view: MapView): StateSelector {
  view.allow(["name", "operator", "value"]);
  return {
    name: view.requiredString("name"),
    operator: view.enumValue("operator", STATE_OPERATORS) ?? view.missing("operator"),
    value: view.requiredString("value"),
  };
}

function readUserCallerSelector(view: MapView): UserCallerSelector {
  view.allow(["depth", "symbol", "path", "startRange", "endRange"]);
  const depth = view.requiredString("depth");
  if (!/^(any|[1-9][0-9]*)$/.test(depth)) {
    view.reader.fail(
      view.child("depth"),
      `invalid depth ${JSON.stringify(depth)}; expected any or a positive number`,
      view.value("depth"),
    );
  }
  const selector: UserCallerSelector = { depth };
  for (const name of ["symbol", "path"] as const) {
    const value = view.string(name);
    if (value !== undefined) selector[name] = value;
  }
  for (const name of ["startRange", "endRange"] as const) {
    const value = view.int(name, SAFE_INT);
    if (value !== undefined) selector[name] = value;
  }
  return selector;
}

function readWorkloadSelector(view: MapView): WorkloadSelector {
  view.allow(["podSelector", "containerSelector", "hostSelector"]);
  const selector: WorkloadSelector = {};
  for (const name of ["podSelector", "containerSelector", "hostSelector"] as const) {
    const node = view.value(name);
    if (node !== null) selector[name] = readLabelSelector(view.reader, node, view.child(name));
  }
  if (selector.hostSelector) requireNullOrEmpty(view, "hostSelector");
  return selector;
}

/** CRD rule for every hostSelector: only null (absent) or `{}` are meaningful today. */
export function requireNullOrEmpty(view: MapView, name: string): void {
  const hostView = view.reader.map(view.value(name), view.child(name));
  if (hostView.keys().some((key) => hostView.has(key))) {
    view.reader.fail(
      view.child(name),
      "must be either null or {} (selecting hosts by label is not supported)",
      view.value(name),
    );
  }
}
