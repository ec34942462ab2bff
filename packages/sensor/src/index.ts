export {
  bootClockOffsetNs,
  hostNamespaceInums,
  nativeConstants,
  peerCredentials,
  type RawArgString,
  type RawCloneEvent,
  type RawCreds,
  type RawEvent,
  type RawExecEvent,
  type RawExitEvent,
  type RawNamespaceChange,
  type RawNamespaces,
  type RawSyscallEvent,
  type RawTask,
  type RecordBatch,
  type RecordOp,
  type SyscallRecordView,
  throttleConstants,
  trimMemory,
} from "@nsguard/native";
export { defaultBpfDir } from "./bpf-objects.js";
export {
  BPFFS,
  ensureKernelMounts,
  hasSyscallTracepoint,
  type KernelFeatures,
  probeKernelFeatures,
  TRACEFS,
} from "./kernel-features.js";
export type { KernelProcessSeed } from "./kernel-tables.js";
export { type HookInfo, Sensor, type SensorOptions } from "./sensor.js";
export { isSensorError, SensorError } from "./sensor-error.js";
