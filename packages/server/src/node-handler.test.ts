import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { isClientGoneError } from "./node-handler.js";

const systemError = (code: string) => Object.assign(new Error(`write ${code}`), { code });

describe("isClientGoneError", () => {
  it.each([
    ["Aborted", new ConnectError("aborted", Code.Aborted), true],
    ["Canceled", new ConnectError("canceled", Code.Canceled), true],
    [
      "EPIPE under an internal ConnectError",
      new ConnectError("write EPIPE", Code.Internal, undefined, undefined, systemError("EPIPE")),
      true,
    ],
    ["ECONNRESET", systemError("ECONNRESET"), true],
    ["ERR_STREAM_PREMATURE_CLOSE", systemError("ERR_STREAM_PREMATURE_CLOSE"), true],
    ["ResourceExhausted", new ConnectError("too big", Code.ResourceExhausted), false],
    ["an internal error", new ConnectError("serialize binary: boom", Code.Internal), false],
    ["ENOSPC", systemError("ENOSPC"), false],
    ["a string", "boom", false],
  ])("%s → %s", (_, reason, gone) => {
    expect(isClientGoneError(reason)).toBe(gone);
  });
});
