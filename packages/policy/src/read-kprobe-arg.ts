// SPDX-License-Identifier: Apache-2.0

import { ARG_TYPES } from "./crd-enums.js";
import type { KProbeArg } from "./tracing-policy-types.js";
import { UINT32, type YamlReader } from "./yaml-reader.js";

const FIELDS = [
  "index",
  "type",
  "resolve",
  "sizeArgIndex",
  "returnCopy",
  "maxData",
  "label",
  "source",
  "btfType",
  "btfTypeModule",
] as const;

/** One entry of `args`, `data` or `returnArg`, with the CRD defaults applied. */
export function readKProbeArg(reader: YamlReader, node: unknown, path: string): KProbeArg {
  const view = reader.map(node, path).allow(FIELDS);
  const arg: KProbeArg = {
    index: view.int("index", UINT32) ?? view.missing("index"),
    type: view.enumValue("type", ARG_TYPES) ?? "auto",
    resolve: view.string("resolve") ?? "",
    returnCopy: view.bool("returnCopy") ?? false,
    maxData: view.bool("maxData") ?? false,
  };
  const sizeArgIndex = view.int("sizeArgIndex", UINT32);
  if (sizeArgIndex !== undefined) arg.sizeArgIndex = sizeArgIndex;
  for (const name of ["label", "source", "btfType", "btfTypeModule"] as const) {
    const value = view.string(name);
    if (value !== undefined) arg[name] = value;
  }
  return arg;
}
