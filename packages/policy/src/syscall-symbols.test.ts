// SPDX-License-Identifier: Apache-2.0

import { describe, expect, it } from "vitest";
import { resolveSyscallSymbol } from "./syscall-symbols.js";

describe("resolveSyscallSymbol (Tetragon AddSyscallPrefix)", () => {
  it.each([
    ["sys_setns", "x86_64", "__x64_sys_setns", "setns"],
    ["sys_setns", "arm64", "__arm64_sys_setns", "setns"],
    ["__x64_sys_setns", "x86_64", "__x64_sys_setns", "setns"],
    ["__arm64_sys_setns", "arm64", "__arm64_sys_setns", "setns"],
    ["sys_clone3", "x86_64", "__x64_sys_clone3", "clone3"],
    ["sys_pivot_root", "arm64", "__arm64_sys_pivot_root", "pivot_root"],
  ] as const)("%s on %s is %s (syscall %s)", (call, arch, functionName, syscall) => {
    expect(resolveSyscallSymbol(call, arch)).toStrictEqual({ ok: true, functionName, syscall });
  });

  it.each([
    [
      "__arm64_sys_setns",
      "x86_64",
      /carries the arm64 syscall prefix "__arm64_", but the target architecture is x86_64/,
    ],
    [
      "__x64_sys_setns",
      "arm64",
      /carries the x86_64 syscall prefix "__x64_", but the target architecture is arm64/,
    ],
    ["__ia32_sys_setns", "x86_64", /carries the i386 syscall prefix "__ia32_"/],
    ["__ia32_sys_setns", "arm64", /carries the i386 syscall prefix "__ia32_"/],
    ["setns", "x86_64", /^"setns" is not a syscall symbol; with syscall: true write "sys_setns"/],
    ["__x64_setns", "x86_64", /^"__x64_setns" is not a syscall symbol; with syscall: true write "sys_setns"/],
    ["sys_", "x86_64", /is not a syscall symbol; with syscall: true write "sys_sys_"/],
    ["sys_SetNs", "x86_64", /is not a valid syscall symbol/],
    ["sys_set-ns", "x86_64", /is not a valid syscall symbol/],
    ["", "x86_64", /is not a valid syscall symbol/],
  ] as const)("refuses %j on %s", (call, arch, reason) => {
    const result = resolveSyscallSymbol(call, arch);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(reason);
  });
});
