// SPDX-License-Identifier: Apache-2.0

import { LIST_TYPES, type TracingPolicyKind } from "./crd-enums.js";
import { MAX_ENFORCERS, MAX_STATES } from "./crd-limits.js";
import { fieldPath, itemPath } from "./field-path.js";
import { readKProbeSpec } from "./read-kprobe-spec.js";
import { readLabelSelector } from "./read-label-selector.js";
import {
  readLsmHookSpec,
  readTracepointSpec,
  readUProbeSpec,
  readUsdtSpec,
} from "./read-other-hook-specs.js";
import { readSelector, requireNullOrEmpty } from "./read-selector.js";
import type { KProbeSelector, ListSpec, StateSpec, TracingPolicySpec } from "./tracing-policy-types.js";
import type { MapView, YamlReader } from "./yaml-reader.js";

const FIELDS = [
  "kprobes",
  "tracepoints",
  "loader",
  "uprobes",
  "lsmhooks",
  "usdts",
  "fentries",
  "podSelector",
  "containerSelector",
  "hostSelector",
  "nodeSelector",
  "lists",
  "enforcers",
  "options",
  "selectorsMacros",
  "state",
] as const;

/** `spec` of a TracingPolicy or TracingPolicyNamespaced. */
export function readPolicySpec(
  reader: YamlReader,
  node: unknown,
  path: string,
  kind: TracingPolicyKind,
): TracingPolicySpec {
  const view = reader.map(node, path).allow(FIELDS);
  const spec: TracingPolicySpec = {};

  const kprobes = view.list("kprobes", (item, p) => readKProbeSpec(reader, item, p));
  if (kprobes !== undefined) spec.kprobes = kprobes;
  const tracepoints = view.list("tracepoints", (item, p) => readTracepointSpec(reader, item, p));
  if (tracepoints !== undefined) spec.tracepoints = tracepoints;
  const loader = view.bool("loader");
  if (loader !== undefined) spec.loader = loader;
  const uprobes = view.list("uprobes", (item, p) => readUProbeSpec(reader, item, p));
  if (uprobes !== undefined) spec.uprobes = uprobes;
  const lsmhooks = view.list("lsmhooks", (item, p) => readLsmHookSpec(reader, item, p));
  if (lsmhooks !== undefined) spec.lsmhooks = lsmhooks;
  const usdts = view.list("usdts", (item, p) => readUsdtSpec(reader, item, p));
  if (usdts !== undefined) spec.usdts = usdts;
  const fentries = view.list("fentries", (item, p) => readKProbeSpec(reader, item, p));
  if (fentries !== undefined) spec.fentries = fentries;

  for (const name of ["podSelector", "containerSelector", "hostSelector", "nodeSelector"] as const) {
    const selectorNode = view.value(name);
    if (selectorNode !== null) spec[name] = readLabelSelector(reader, selectorNode, view.child(name));
  }
  if (spec.hostSelector !== undefined) {
    // CRD rule on TracingPolicyNamespaced: it only ever applies to pods of its own namespace.
    if (kind === "TracingPolicyNamespaced") {
      reader.fail(
        view.child("hostSelector"),
        "must be null in a TracingPolicyNamespaced",
        view.value("hostSelector"),
      );
    }
    requireNullOrEmpty(view, "hostSelector");
  }

  const lists = view.list("lists", (item, p) => readListSpec(reader.map(item, p)));
  if (lists !== undefined) spec.lists = lists;
  const enforcers = view.list(
    "enforcers",
    (item, p) => {
      const enforcer = reader.map(item, p).allow(["calls"]);
      return { calls: enforcer.stringList("calls") ?? enforcer.missing("calls") };
    },
    MAX_ENFORCERS,
  );
  if (enforcers !== undefined) spec.enforcers = enforcers;
  const options = view.list("options", (item, p) => {
    const option = reader.map(item, p).allow(["name", "value"]);
    const name = option.requiredString("name");
    const value = option.string("value");
    return value === undefined ? { name } : { name, value };
  });
  if (options !== undefined) spec.options = options;
  const selectorsMacros = view.mapOf("selectorsMacros", (item, p) => readSelector(reader, item, p));
  if (selectorsMacros !== undefined) spec.selectorsMacros = selectorsMacros;
  const state = view.list("state", (item, p) => readStateSpec(reader.map(item, p)), MAX_STATES);
  if (state !== undefined) spec.state = state;

  requireUniqueNames(reader, view.child("lists"), spec.lists ?? [], "list");
  requireUniqueNames(reader, view.child("state"), spec.state ?? [], "state");
  checkMacroReferences(reader, path, spec);
  return spec;
}

function readListSpec(view: MapView): ListSpec {
  view.allow(["name", "values", "type", "pattern", "validated"]);
  const list: ListSpec = { name: view.requiredString("name") };
  const values = view.stringList("values");
  if (values !== undefined) list.values = values;
  const type = view.enumValue("type", LIST_TYPES);
  if (type !== undefined) list.type = type;
  const pattern = view.string("pattern");
  if (pattern !== undefined) list.pattern = pattern;
  const validated = view.bool("validated");
  if (validated !== undefined) list.validated = validated;
  return list;
}

function readStateSpec(view: MapView): StateSpec {
  view.allow(["name"]);
  const name = view.requiredString("name");
  if (name.length < 1 || name.length > 255) {
    view.reader.fail(
      view.child("name"),
      `must be 1 to 255 characters long (got ${name.length})`,
      view.value("name"),
    );
  }
  return { name };
}

function requireUniqueNames(
  reader: YamlReader,
  path: string,
  entries: readonly { name: string }[],
  what: string,
): void {
  const seen = new Set<string>();
  entries.forEach((entry, i) => {
    if (seen.has(entry.name)) {
      reader.fail(
        fieldPath(itemPath(path, i), "name"),
        `duplicate ${what} name ${JSON.stringify(entry.name)}`,
      );
    }
    seen.add(entry.name);
  });
}

// A selector's `macros` names entries of spec.selectorsMacros; Tetragon refuses a policy naming one
// that does not exist, so a typo is caught here with its position rather than at load time.
function checkMacroReferences(reader: YamlReader, specPath: string, spec: TracingPolicySpec): void {
  const defined = new Set(Object.keys(spec.selectorsMacros ?? {}));
  const check = (selectors: readonly KProbeSelector[] | undefined, selectorsPath: string): void => {
    selectors?.forEach((selector, i) => {
      selector.macros?.forEach((macro, j) => {
        if (!defined.has(macro)) {
          const macrosPath = fieldPath(itemPath(selectorsPath, i), "macros");
          reader.fail(
            itemPath(macrosPath, j),
            `selector macro ${JSON.stringify(macro)} is not defined in spec.selectorsMacros`,
          );
        }
      });
    });
  };
  const sections = ["kprobes", "tracepoints", "uprobes", "lsmhooks", "usdts", "fentries"] as const;
  for (const section of sections) {
    const hooks: readonly { selectors?: KProbeSelector[] }[] = spec[section] ?? [];
    hooks.forEach((hook, i) => {
      check(hook.selectors, fieldPath(itemPath(fieldPath(specPath, section), i), "selectors"));
    });
  }
}
