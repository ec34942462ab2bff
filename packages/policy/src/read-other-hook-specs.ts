// SPDX-License-Identifier: Apache-2.0

import { readArgs, readMessage, readSelectors, readTags, requireReturnArg } from "./read-hook-fields.js";
import { readKProbeArg } from "./read-kprobe-arg.js";
import type { LsmHookSpec, TracepointSpec, UProbeSpec, UsdtSpec } from "./tracing-policy-types.js";
import { type MapView, SAFE_INT, type YamlReader } from "./yaml-reader.js";

// The hook kinds nsguard parses (so a Tetragon policy using them gets field-accurate errors) but does
// not compile yet: tracepoints, LSM hooks, uprobes and USDTs.

interface CommonFields {
  message?: string;
  args?: ReturnType<typeof readArgs>;
  selectors?: ReturnType<typeof readSelectors>;
  tags?: string[];
}

function readCommon(view: MapView): CommonFields {
  const out: CommonFields = {};
  const message = readMessage(view);
  if (message !== undefined) out.message = message;
  const args = readArgs(view, "args");
  if (args !== undefined) out.args = args;
  const selectors = readSelectors(view);
  if (selectors !== undefined) out.selectors = selectors;
  const tags = readTags(view);
  if (tags !== undefined) out.tags = tags;
  return out;
}

export function readTracepointSpec(reader: YamlReader, node: unknown, path: string): TracepointSpec {
  const view = reader
    .map(node, path)
    .allow(["subsystem", "event", "message", "args", "selectors", "tags", "raw"]);
  const spec: TracepointSpec = {
    subsystem: view.requiredString("subsystem"),
    event: view.requiredString("event"),
    ...readCommon(view),
  };
  const raw = view.bool("raw");
  if (raw !== undefined) spec.raw = raw;
  return spec;
}

export function readLsmHookSpec(reader: YamlReader, node: unknown, path: string): LsmHookSpec {
  const view = reader.map(node, path).allow(["hook", "message", "args", "selectors", "tags"]);
  return { hook: view.requiredString("hook"), ...readCommon(view) };
}

export function readUProbeSpec(reader: YamlReader, node: unknown, path: string): UProbeSpec {
  const view = reader
    .map(node, path)
    .allow([
      "path",
      "symbols",
      "addrs",
      "offsets",
      "refCtrOffsets",
      "message",
      "args",
      "data",
      "return",
      "returnArg",
      "selectors",
      "tags",
      "btfPath",
      "binaryDigests",
      "ignore",
    ]);
  const spec: UProbeSpec = {
    path: view.requiredString("path"),
    return: view.bool("return") ?? false,
    ...readCommon(view),
  };
  const symbols = view.stringList("symbols");
  if (symbols !== undefined) spec.symbols = symbols;
  for (const name of ["addrs", "offsets", "refCtrOffsets"] as const) {
    const values = view.intList(name, SAFE_INT);
    if (values !== undefined) spec[name] = values;
  }
  // CRD rule: one way of naming the traced locations.
  const targets = (["symbols", "addrs", "offsets"] as const).filter((n) => spec[n] !== undefined);
  if (targets.length > 1) {
    reader.fail(
      view.child(targets[1] ?? "addrs"),
      `at most one of symbols, addrs and offsets may be set (got ${targets.join(" and ")})`,
      view.value(targets[1] ?? "addrs"),
    );
  }
  const data = readArgs(view, "data");
  if (data !== undefined) spec.data = data;
  const returnArgNode = view.value("returnArg");
  if (returnArgNode !== null) spec.returnArg = readKProbeArg(reader, returnArgNode, view.child("returnArg"));
  requireReturnArg(view, spec.return, spec.returnArg);
  const btfPath = view.string("btfPath");
  if (btfPath !== undefined) spec.btfPath = btfPath;
  const binaryDigests = view.stringList("binaryDigests");
  if (binaryDigests !== undefined) spec.binaryDigests = binaryDigests;
  const ignore = view.object("ignore", (v) => {
    v.allow(["digestVerificationFailure"]);
    const digestVerificationFailure = v.bool("digestVerificationFailure");
    return digestVerificationFailure === undefined ? {} : { digestVerificationFailure };
  });
  if (ignore !== undefined) spec.ignore = ignore;
  return spec;
}

export function readUsdtSpec(reader: YamlReader, node: unknown, path: string): UsdtSpec {
  const view = reader
    .map(node, path)
    .allow(["path", "provider", "name", "message", "args", "selectors", "tags", "btfPath"]);
  const spec: UsdtSpec = {
    path: view.requiredString("path"),
    provider: view.requiredString("provider"),
    name: view.requiredString("name"),
    ...readCommon(view),
  };
  const btfPath = view.string("btfPath");
  if (btfPath !== undefined) spec.btfPath = btfPath;
  return spec;
}
