import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import {
  codeForError,
  PermissionDeniedError,
  PolicyExistsError,
  PolicyNotFoundError,
  toConnectError,
} from "./errors.js";

function named(name: string, message: string, extra: object = {}): Error {
  return Object.assign(new Error(message), { name }, extra);
}

describe("toConnectError", () => {
  it.each([
    [
      "PermissionDeniedError",
      new PermissionDeniedError("AddTracingPolicy is refused for a plain TCP client (policy not found)"),
      Code.PermissionDenied,
    ],
    ["PolicyError", named("PolicyError", "spec.kprobes[0].selectors: bad"), Code.InvalidArgument],
    ["FilterError", named("FilterError", "binary_regex: bad"), Code.InvalidArgument],
    ["errno EPERM", named("BpfError", "load failed", { code: "EPERM" }), Code.PermissionDenied],
    ["errno EACCES", Object.assign(new Error("open /sys/fs/bpf"), { code: "EACCES" }), Code.PermissionDenied],
    ["negative errno -1", named("BpfError", "load failed", { errno: -1 }), Code.PermissionDenied],
    ["PolicyNotFoundError", new PolicyNotFoundError('tracing policy "x" not found'), Code.NotFound],
    [
      "PolicyExistsError",
      new PolicyExistsError("a policy with the key x already exists"),
      Code.AlreadyExists,
    ],
    // Wording is never matched: only the type says what happened.
    ["a message saying not found", new Error('tracing policy "x" not found'), Code.Unknown],
    ["ENOENT", Object.assign(new Error("no such file"), { code: "ENOENT" }), Code.NotFound],
    ["BpfError", named("BpfError", "attach: invalid argument", { code: "EINVAL" }), Code.Unavailable],
    ["unavailable code", Object.assign(new Error("runtime down"), { code: "unavailable" }), Code.Unavailable],
    ["a message saying unavailable", new Error("sensor manager unavailable"), Code.Unknown],
    ["anything else", new Error("boom"), Code.Unknown],
    ["a non-error", "just a string", Code.Unknown],
  ])("%s", (_, reason, code) => {
    const err = toConnectError(reason);
    expect(err.code).toBe(code);
    expect(err.cause).toBe(reason);
    expect(err.rawMessage).toBe(reason instanceof Error ? reason.message : String(reason));
  });

  it("looks through the cause chain", () => {
    const inner = named("PolicyError", "bad selector");
    const outer = new Error("adding policy failed", { cause: inner });
    expect(toConnectError(outer).code).toBe(Code.InvalidArgument);
    expect(toConnectError(outer).cause).toBe(outer);
  });

  it("survives a cyclic cause chain", () => {
    const a: Error & { cause?: unknown } = new Error("a");
    const b = new Error("b", { cause: a });
    a.cause = b;
    expect(codeForError(a)).toBe(Code.Unknown);
  });

  it("passes ConnectErrors through", () => {
    const err = new ConnectError("nope", Code.ResourceExhausted);
    expect(toConnectError(err)).toBe(err);
    expect(codeForError(err)).toBe(Code.ResourceExhausted);
  });
});
