import { describe, expect, it } from "vitest";
import {
  CLONE_NEWIPC,
  CLONE_NEWNET,
  CLONE_NEWUSER,
  namespaceFlagNames,
  setnsNamespaceName,
} from "./namespace-flags.js";
import { cutSyscallPrefix } from "./syscall-name.js";

describe("namespace flags", () => {
  it("names setns nstype values like Tetragon's PrintNS", () => {
    expect(setnsNamespaceName(134217728)).toBe("ipc");
    expect(setnsNamespaceName(CLONE_NEWIPC)).toBe("ipc");
    expect(setnsNamespaceName(0)).toBe("any");
    expect(setnsNamespaceName(CLONE_NEWIPC | CLONE_NEWNET)).toBe("");
  });
  it("lists every CLONE_NEW* bit in name order and ignores other bits", () => {
    expect(namespaceFlagNames(CLONE_NEWUSER | CLONE_NEWNET | 0x11)).toEqual(["net", "user"]);
    expect(namespaceFlagNames(0x7e020080)).toEqual([
      "cgroup",
      "ipc",
      "mnt",
      "net",
      "pid",
      "time",
      "user",
      "uts",
    ]);
    expect(namespaceFlagNames(0n)).toEqual([]);
  });
});

describe("cutSyscallPrefix", () => {
  it.each([
    ["__x64_sys_setns", "sys_setns"],
    ["__arm64_sys_setns", "sys_setns"],
    ["__ia32_sys_setns", "sys_setns"],
    ["__ia32_compat_sys_setns", "sys_setns"],
    ["sys_setns", "sys_setns"],
    ["fd_install", "fd_install"],
  ])("%s → %s", (input, expected) => {
    expect(cutSyscallPrefix(input)).toBe(expected);
  });
});
