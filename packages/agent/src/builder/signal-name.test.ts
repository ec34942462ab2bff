import { describe, expect, it } from "vitest";
import { decodeWaitStatus, signalName } from "./signal-name.js";

describe("signalName", () => {
  it("names the classic signals", () => {
    expect(signalName(9)).toBe("SIGKILL");
    expect(signalName(15)).toBe("SIGTERM");
    expect(signalName(11)).toBe("SIGSEGV");
    expect(signalName(31)).toBe("SIGSYS");
  });

  it("is empty for 0 and unnamed numbers", () => {
    expect(signalName(0)).toBe("");
    expect(signalName(34)).toBe("");
  });
});

describe("decodeWaitStatus", () => {
  it("decodes a normal exit code", () => {
    expect(decodeWaitStatus(3 << 8)).toEqual({ status: 3, signal: "" }); // kernel-findings 3i: exit 3 → 768
  });

  it("decodes a kill, as after a Sigkill action (exit status 137 in a shell)", () => {
    expect(decodeWaitStatus(9)).toEqual({ status: 0, signal: "SIGKILL" });
  });

  it("strips the core-dump bit", () => {
    expect(decodeWaitStatus(0x80 | 11)).toEqual({ status: 0, signal: "SIGSEGV" });
  });
});
