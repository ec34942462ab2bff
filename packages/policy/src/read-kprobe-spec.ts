// SPDX-License-Identifier: Apache-2.0

import { RETURN_ARG_ACTIONS } from "./crd-enums.js";
import { readArgs, readMessage, readSelectors, readTags, requireReturnArg } from "./read-hook-fields.js";
import { readKProbeArg } from "./read-kprobe-arg.js";
import type { KProbeSpec } from "./tracing-policy-types.js";
import type { YamlReader } from "./yaml-reader.js";

const FIELDS = [
  "call",
  "syscall",
  "return",
  "message",
  "args",
  "data",
  "returnArg",
  "returnArgAction",
  "selectors",
  "tags",
  "ignore",
] as const;

/** One entry of `kprobes` or `fentries`, with the CRD defaults (`syscall: true`, `return: false`). */
export function readKProbeSpec(reader: YamlReader, node: unknown, path: string): KProbeSpec {
  const view = reader.map(node, path).allow(FIELDS);
  const call = view.requiredString("call");
  if (call.trim() === "") reader.fail(view.child("call"), "must not be empty", view.value("call"));
  const spec: KProbeSpec = {
    call,
    // The CRD and schema default is true, although Tetragon's hooks.md says false (reference §7.1).
    syscall: view.bool("syscall") ?? true,
    return: view.bool("return") ?? false,
  };
  const message = readMessage(view);
  if (message !== undefined) spec.message = message;
  const args = readArgs(view, "args");
  if (args !== undefined) spec.args = args;
  const data = readArgs(view, "data");
  if (data !== undefined) spec.data = data;
  const returnArgNode = view.value("returnArg");
  if (returnArgNode !== null) spec.returnArg = readKProbeArg(reader, returnArgNode, view.child("returnArg"));
  requireReturnArg(view, spec.return, spec.returnArg);
  const returnArgAction = view.enumValue("returnArgAction", RETURN_ARG_ACTIONS, { ignoreCase: true });
  if (returnArgAction !== undefined) spec.returnArgAction = returnArgAction;
  const selectors = readSelectors(view);
  if (selectors !== undefined) spec.selectors = selectors;
  const tags = readTags(view);
  if (tags !== undefined) spec.tags = tags;
  const ignore = view.object("ignore", (v) => {
    v.allow(["callNotFound"]);
    const callNotFound = v.bool("callNotFound");
    return callNotFound === undefined ? {} : { callNotFound };
  });
  if (ignore !== undefined) spec.ignore = ignore;
  return spec;
}
