// SPDX-License-Identifier: Apache-2.0

import {
  ACTION_NAMES,
  type ActionName,
  RATE_LIMIT_SCOPES,
  REMOVED_ACTION_NAMES,
  STATE_UPDATE_OPERATORS,
} from "./crd-enums.js";
import type { ActionSelector } from "./tracing-policy-types.js";
import { INT32, SAFE_INT, type YamlReader } from "./yaml-reader.js";

/** Every field of an action selector, as the CRD defines them. */
export const ACTION_FIELDS = [
  "action",
  "argError",
  "argSig",
  "argUrl",
  "argFqdn",
  "argSock",
  "argIndex",
  "argValue",
  "argRegs",
  "argNewSymbol",
  "argNewAddr",
  "argNewOffset",
  "rateLimit",
  "rateLimitScope",
  "kernelStackTrace",
  "userStackTrace",
  "imaHash",
  "stateName",
  "stateNewValue",
  "stateUpdateOperator",
] as const;

// Tetragon's rate-limit syntax: a count of seconds, or of minutes / hours with an m / h suffix.
const RATE_LIMIT = /^[0-9]+[smh]?$/;

/** One entry of `matchActions` / `matchReturnActions`. */
export function readActionSelector(reader: YamlReader, node: unknown, path: string): ActionSelector {
  const view = reader.map(node, path).allow(ACTION_FIELDS);
  const actionPath = view.child("action");
  const actionNode = view.value("action");
  if (actionNode === null) view.missing("action");
  const written = reader.string(actionNode, actionPath);
  const removed = REMOVED_ACTION_NAMES.find((name) => name.toLowerCase() === written.toLowerCase());
  if (removed !== undefined) {
    reader.fail(actionPath, `action ${removed} was removed from Tetragon (deprecated as unsafe)`, actionNode);
  }
  // Tetragon lowercases the name before looking it up, so `sigkill` and `SIGKILL` mean Sigkill.
  const action: ActionName = reader.enumValue(actionNode, actionPath, ACTION_NAMES, { ignoreCase: true });
  const selector: ActionSelector = { action };

  for (const name of ["argError", "argSig", "argSock", "argIndex"] as const) {
    const value = view.int(name, INT32);
    if (value !== undefined) selector[name] = value;
  }
  for (const name of ["argValue", "argNewAddr", "argNewOffset"] as const) {
    const value = view.int(name, SAFE_INT);
    if (value !== undefined) selector[name] = value;
  }
  for (const name of ["argUrl", "argFqdn", "argNewSymbol", "stateName", "stateNewValue"] as const) {
    const value = view.string(name);
    if (value !== undefined) selector[name] = value;
  }
  for (const name of ["kernelStackTrace", "userStackTrace", "imaHash"] as const) {
    const value = view.bool(name);
    if (value !== undefined) selector[name] = value;
  }
  const argRegs = view.stringList("argRegs");
  if (argRegs !== undefined) selector.argRegs = argRegs;

  const rateLimit = view.string("rateLimit");
  if (rateLimit !== undefined) {
    if (!RATE_LIMIT.test(rateLimit)) {
      reader.fail(
        view.child("rateLimit"),
        `invalid rate limit ${JSON.stringify(rateLimit)}; expected a number of seconds, optionally with an s, m or h suffix`,
        view.value("rateLimit"),
      );
    }
    selector.rateLimit = rateLimit;
  }
  const rateLimitScope = view.enumValue("rateLimitScope", RATE_LIMIT_SCOPES);
  if (rateLimitScope !== undefined) selector.rateLimitScope = rateLimitScope;
  const stateUpdateOperator = view.enumValue("stateUpdateOperator", STATE_UPDATE_OPERATORS);
  if (stateUpdateOperator !== undefined) selector.stateUpdateOperator = stateUpdateOperator;

  // CRD rule: the three uprobe call-override targets exclude each other.
  const targets = (["argNewSymbol", "argNewAddr", "argNewOffset"] as const).filter(
    (n) => selector[n] !== undefined,
  );
  if (targets.length > 1) {
    reader.fail(
      view.child(targets[1] ?? "argNewAddr"),
      `at most one of argNewSymbol, argNewAddr and argNewOffset may be set (got ${targets.join(" and ")})`,
      view.value(targets[1] ?? "argNewAddr"),
    );
  }
  return selector;
}
