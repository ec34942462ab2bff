// SPDX-License-Identifier: Apache-2.0
/**
 * The kernel/user contract for TypeScript. Everything here derives from
 * bpf/include/nsguard_events.h: the constants and struct layouts are generated from it
 * (scripts/generate.mjs, checked for drift in CI), and encodeStruct writes map values by those
 * layouts. TypeScript never copies a value of the header by hand.
 */

export {
  encodeStruct,
  isKernelContractError,
  KernelContractError,
  type StructName,
  type StructValue,
  structSize,
} from "./encode.js";
export * from "./gen/nsguard-events.js";
