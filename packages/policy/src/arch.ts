// SPDX-License-Identifier: Apache-2.0

/** Architectures nsguard compiles for, named the way the kernel (`uname -m`) names them. */
export const ARCHES = ["x86_64", "arm64"] as const;
export type Arch = (typeof ARCHES)[number];

/** The architecture of the running process, or undefined when nsguard does not support it. */
export function hostArch(nodeArch: string = process.arch): Arch | undefined {
  if (nodeArch === "x64") return "x86_64";
  if (nodeArch === "arm64") return "arm64";
  return undefined;
}
