// SPDX-License-Identifier: Apache-2.0
// `return: true`, `returnArg`, matchReturnArgs and matchReturnActions on syscall hooks.

import { describe, expect, it } from "vitest";
import { compileTracingPolicy } from "./compile-tracing-policy.js";
import type { CompiledHook } from "./compiled-policy-types.js";
import { parseTracingPolicy } from "./parse-tracing-policy.js";
import { PolicyError } from "./policy-error.js";

/** A setns hook with `lines` under it; hook line n is file line n + 7, its text at column 5. */
function setns(...lines: string[]): string {
  return [
    "apiVersion: cilium.io/v1alpha1",
    "kind: TracingPolicy",
    "metadata:",
    "  name: test",
    "spec:",
    "  kprobes:",
    "  - call: sys_setns",
    ...lines.map((l) => `    ${l}`),
    "",
  ].join("\n");
}

function hook(text: string, mode?: "monitor"): CompiledHook {
  const compiled = compileTracingPolicy(parseTracingPolicy(text, "r.yaml"), {
    arch: "x86_64",
    ...(mode ? { mode } : {}),
  });
  return compiled.hooks[0] as CompiledHook;
}

function refusal(text: string): string {
  try {
    hook(text);
  } catch (error) {
    if (error instanceof PolicyError) return error.message;
    throw error;
  }
  throw new Error("expected a PolicyError");
}

const RETURN = ["return: true", "returnArg: {index: 0, type: int}", "args: [{index: 0, type: int}]"];

describe("return probes", () => {
  it("compiles return: true with a returnArg into a return hook without selectors", () => {
    const h = hook(setns(...RETURN));
    expect(h.returnArg).toStrictEqual({ kind: "int_arg" });
    expect(h.table.atReturn).toBe(true);
    expect(h.table.selectors).toStrictEqual([]);
  });

  it("keeps the returnArg label and reports long, uint and size types", () => {
    expect(
      hook(setns("return: true", "returnArg: {index: 0, type: long, label: ret}")).returnArg,
    ).toStrictEqual({
      kind: "long_arg",
      label: "ret",
    });
    expect(hook(setns("return: true", "returnArg: {index: 0, type: uint32}")).returnArg?.kind).toBe(
      "uint_arg",
    );
    expect(hook(setns("return: true", "returnArg: {index: 0, type: size_t}")).returnArg?.kind).toBe(
      "size_arg",
    );
  });

  it("leaves hooks without return: true as they were", () => {
    const h = hook(setns("args: [{index: 0, type: int}]"));
    expect(h.returnArg).toBeUndefined();
    expect(h.table.atReturn).toBeUndefined();
  });

  it("compiles matchReturnArgs NotEqual 0 on an int return value, 32-bit and signed", () => {
    const h = hook(
      setns(...RETURN, "selectors:", "- matchReturnArgs: [{index: 0, operator: NotEqual, values: ['0']}]"),
    );
    expect(h.table.selectors).toStrictEqual([
      {
        action: 1,
        returnArgs: [{ type: "int", op: "NotEqual", index: 0, values: [0n], width32: true, signed: true }],
      },
    ]);
  });

  it("types matchReturnArgs values by the returnArg: -9 as a long is the 64-bit pattern", () => {
    const h = hook(
      setns(
        "return: true",
        "returnArg: {index: 0, type: long}",
        "selectors:",
        "- matchReturnArgs: [{operator: Equal, values: ['-9', '-1']}, {operator: LT, values: ['0']}]",
      ),
    );
    expect(h.table.selectors[0]?.returnArgs).toStrictEqual([
      {
        type: "int",
        op: "Equal",
        index: 0,
        values: [BigInt.asUintN(64, -9n), BigInt.asUintN(64, -1n)],
        width32: false,
        signed: true,
      },
      { type: "int", op: "LT", index: 0, values: [0n], width32: false, signed: true },
    ]);
  });

  it("ANDs matchReturnArgs with the rest of its selector and keeps the call's actions", () => {
    const h = hook(
      setns(
        ...RETURN,
        "selectors:",
        "- matchArgs: [{index: 0, operator: Equal, values: ['3']}]",
        "  matchReturnArgs: [{operator: Equal, values: ['0']}]",
        "  matchActions: [{action: Sigkill}]",
      ),
    );
    const [sel] = h.table.selectors;
    expect(sel?.action).toBe(3);
    expect(sel?.args?.length).toBe(1);
    expect(sel?.returnArgs?.length).toBe(1);
    expect(sel?.returnAction).toBeUndefined();
  });

  it.each([
    ["Post", undefined],
    ["NoPost", 9],
    ["Sigkill", 3],
  ] as const)("compiles matchReturnActions %s", (action, expected) => {
    const h = hook(setns(...RETURN, "selectors:", `- matchReturnActions: [{action: ${action}}]`));
    expect(h.table.selectors[0]?.returnAction).toBe(expected);
  });

  it("monitor mode turns a return Sigkill into Post, marked monitorOnly", () => {
    const h = hook(setns(...RETURN, "selectors:", "- matchReturnActions: [{action: Sigkill}]"), "monitor");
    expect(h.table.selectors[0]?.returnAction).toBeUndefined();
    expect(h.table.selectors[0]?.monitorOnly).toBe(true);
  });

  it.each([
    [
      "matchReturnArgs without return: true",
      setns("selectors:", "- matchReturnArgs: [{operator: Equal, values: ['0']}]"),
      "r.yaml:9:7: spec.kprobes[0].selectors[0].matchReturnArgs: is only used by hooks with return: true",
    ],
    [
      "matchReturnActions without return: true",
      setns("selectors:", "- matchReturnActions: [{action: Post}]"),
      "r.yaml:9:7: spec.kprobes[0].selectors[0].matchReturnActions: is only used by hooks with return: true",
    ],
    [
      "a string returnArg",
      setns("return: true", "returnArg: {index: 0, type: string}"),
      'r.yaml:9:27: spec.kprobes[0].returnArg.type: returnArg type "string" is not supported by nsguard: a syscall returns a long (use an integer type such as int or long)',
    ],
    [
      "Prefix on the return value",
      setns(...RETURN, "selectors:", "- matchReturnArgs: [{operator: Prefix, values: [x]}]"),
      "r.yaml:12:26: spec.kprobes[0].selectors[0].matchReturnArgs[0].operator: operator Prefix on the return value is not supported by nsguard (supported: Equal, NotEqual, Mask, GT, LT)",
    ],
    [
      "an index other than 0",
      setns(...RETURN, "selectors:", "- matchReturnArgs: [{index: 1, operator: Equal, values: ['0']}]"),
      "r.yaml:12:26: spec.kprobes[0].selectors[0].matchReturnArgs[0].index: must be 0: matchReturnArgs compares the return value",
    ],
    [
      "three matchReturnArgs entries",
      setns(
        ...RETURN,
        "selectors:",
        "- matchReturnArgs: [{operator: GT, values: ['-5']}, {operator: LT, values: ['5']}, {operator: NotEqual, values: ['0']}]",
      ),
      "r.yaml:12:7: spec.kprobes[0].selectors[0].matchReturnArgs: has 3 entries, at most 2 allowed in nsguard",
    ],
    [
      "Signal at the return",
      setns(...RETURN, "selectors:", "- matchReturnActions: [{action: Signal, argSig: 10}]"),
      "r.yaml:12:29: spec.kprobes[0].selectors[0].matchReturnActions[0].action: action Signal in matchReturnActions is not supported by nsguard (supported: Post, NoPost, Sigkill)",
    ],
    [
      "Override at the return",
      setns(...RETURN, "selectors:", "- matchReturnActions: [{action: Override, argError: -1}]"),
      "r.yaml:12:29: spec.kprobes[0].selectors[0].matchReturnActions[0].action: action Override in matchReturnActions is not supported by nsguard (supported: Post, NoPost, Sigkill)",
    ],
    [
      "two return actions",
      setns(...RETURN, "selectors:", "- matchReturnActions: [{action: Post}, {action: Sigkill}]"),
      "r.yaml:12:44: spec.kprobes[0].selectors[0].matchReturnActions[1]: nsguard takes one action in matchReturnActions",
    ],
  ])("refuses %s", (_name, text, message) => {
    expect(refusal(text)).toBe(message);
  });
});
