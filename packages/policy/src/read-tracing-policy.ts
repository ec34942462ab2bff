// SPDX-License-Identifier: Apache-2.0

import { isMap } from "yaml";
import { API_VERSION, POLICY_KINDS, type TracingPolicyKind } from "./crd-enums.js";
import { dnsLabelProblem, dnsSubdomainProblem } from "./dns-names.js";
import { readPolicySpec } from "./read-policy-spec.js";
import type { PolicyMetadata, TracingPolicy } from "./tracing-policy-types.js";
import { type MapView, SAFE_INT, type YamlReader } from "./yaml-reader.js";

const METADATA_FIELDS = [
  "name",
  "namespace",
  "labels",
  "annotations",
  "uid",
  "resourceVersion",
  "generation",
  "creationTimestamp",
] as const;

/** The whole document: apiVersion, kind, metadata and spec, in the order Tetragon checks them. */
export function readTracingPolicy(reader: YamlReader, node: unknown): TracingPolicy {
  reader.record("", node);
  const resolved = reader.resolve(node);
  if (resolved === null) reader.fail("", "the document is empty; expected a TracingPolicy", node);
  if (!isMap(resolved)) {
    reader.fail(
      "",
      `expected a TracingPolicy object at the top level, got ${reader.describe(resolved)}`,
      resolved,
    );
  }
  const view = reader.map(resolved, "").allow(["apiVersion", "kind", "metadata", "spec"]);

  const apiVersion = view.requiredString("apiVersion");
  if (apiVersion !== API_VERSION) {
    reader.fail(
      "apiVersion",
      `unsupported apiVersion ${JSON.stringify(apiVersion)}; expected ${API_VERSION}`,
      view.value("apiVersion"),
    );
  }
  const kind = view.enumValue("kind", POLICY_KINDS) ?? view.missing("kind");
  const metadata = view.object("metadata", (m) => readMetadata(m, kind)) ?? view.missing("metadata");
  const specNode = view.value("spec");
  if (specNode === null) view.missing("spec");
  const spec = readPolicySpec(reader, specNode, "spec", kind);
  return { apiVersion: API_VERSION, kind, metadata, spec };
}

function readMetadata(view: MapView, kind: TracingPolicyKind): PolicyMetadata {
  view.allow(METADATA_FIELDS);
  const name = view.requiredString("name");
  const nameProblem = dnsSubdomainProblem(name);
  if (nameProblem) {
    view.reader.fail(
      view.child("name"),
      `invalid name ${JSON.stringify(name)}: ${nameProblem}`,
      view.value("name"),
    );
  }
  const metadata: PolicyMetadata = { name };

  const namespace = view.string("namespace");
  if (kind === "TracingPolicyNamespaced") {
    if (namespace === undefined) view.missing("namespace");
    const problem = dnsLabelProblem(namespace);
    if (problem) {
      view.reader.fail(
        view.child("namespace"),
        `invalid namespace ${JSON.stringify(namespace)}: ${problem}`,
        view.value("namespace"),
      );
    }
    metadata.namespace = namespace;
  } else if (namespace !== undefined) {
    // A cluster-scoped TracingPolicy ignores a namespace; refusing it keeps anyone from believing it
    // scopes the policy (that is what TracingPolicyNamespaced is for).
    view.reader.fail(
      view.child("namespace"),
      "a TracingPolicy is cluster-wide and has no namespace; use kind TracingPolicyNamespaced to scope a policy to one",
      view.value("namespace"),
    );
  }

  for (const name of ["labels", "annotations"] as const) {
    const values = view.mapOf(name, (item, p) => view.reader.string(item, p));
    if (values !== undefined) metadata[name] = values;
  }
  for (const name of ["uid", "resourceVersion", "creationTimestamp"] as const) {
    const value = view.string(name);
    if (value !== undefined) metadata[name] = value;
  }
  const generation = view.int("generation", SAFE_INT);
  if (generation !== undefined) metadata.generation = generation;
  return metadata;
}
