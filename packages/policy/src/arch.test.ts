// SPDX-License-Identifier: Apache-2.0

import { describe, expect, it } from "vitest";
import { hostArch } from "./arch.js";

describe("hostArch", () => {
  it.each([
    ["x64", "x86_64"],
    ["arm64", "arm64"],
    ["ia32", undefined],
    ["riscv64", undefined],
  ])("Node's %s is %s", (nodeArch, arch) => {
    expect(hostArch(nodeArch)).toBe(arch);
  });
});
