// SPDX-License-Identifier: Apache-2.0
/**
 * @nsguard/native — the only C++ in nsguard: a node-addon-api addon over libbpf. It opens, loads
 * and attaches the BPF objects built in bpf/, updates their maps from raw bytes (encoded by @nsguard/kernel-contract),
 * reads their counters, and streams ring-buffer records to JS in batches (RecordBatch: one buffer
 * per batch, records read lazily, laid out by the shared header bpf/include/nsguard_events.h).
 * Every failure is a BpfError.
 */

export type {
  BpfObjectState,
  EventStreamStats,
  KernelCounters,
  LinkInfo,
  MemlockResult,
  NativeConstants,
  PeerCredentials,
  ProgramInfo,
  RecordLayout,
  ThrottleConstants,
  ThrottleSource,
} from "./bindings.js";
export type { EventIteratorOptions, EventStreamOptions, OpenOptions } from "./bpf-object.js";
export {
  BpfObject,
  bootClockOffsetNs,
  bumpMemlock,
  EventStream,
  hostNamespaceInums,
  libbpfVersion,
  nativeConstants,
  peerCredentials,
  throttleConstants,
  trimMemory,
} from "./bpf-object.js";
export type { BpfErrorDetails, BpfOp } from "./errors.js";
export { BpfError, isBpfError } from "./errors.js";
export type * from "./raw-events.js";
export { RecordBatch, type RecordOp, SyscallRecordView } from "./record-batch.js";
