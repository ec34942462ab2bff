// SPDX-License-Identifier: Apache-2.0

// @nsguard/policy: Tetragon TracingPolicy YAML → typed policy (strictly validated, field-path errors)
// → compiled hooks and kernel tables for the sensor. Pure TypeScript, no native code.

export { ARCHES, type Arch, hostArch } from "./arch.js";
export { closestMatch } from "./closest-match.js";
export { MAX_ARG_INDEX } from "./compile-args.js";
export { type CompileOptions, compileTracingPolicy } from "./compile-tracing-policy.js";
export {
  type ArgFilterTable,
  type BinaryFilterTable,
  type CapabilityFilterTable,
  type CompiledArg,
  type CompiledArgKind,
  type CompiledHook,
  type CompiledPolicy,
  type CompiledReturnArg,
  type HookAttach,
  type HookTable,
  type IntArgFilterTable,
  KPROBE_ACTION_NOPOST,
  KPROBE_ACTION_POST,
  KPROBE_ACTION_SIGKILL,
  KPROBE_ACTION_SIGNAL,
  type NamespaceCall,
  type NamespaceFilterTable,
  type NamespaceKindsTable,
  type PolicyMode,
  type ReturnAction,
  type SelectorAction,
  type SelectorTable,
  type StringArgFilterTable,
  type StringArgTable,
  type StringFilterTable,
  type StringOp,
  type WorkloadScope,
} from "./compiled-policy-types.js";
export * from "./crd-enums.js";
export * from "./crd-limits.js";
export { IA32_SYSCALLS } from "./ia32-syscalls.js";
export { type LoadedPolicyFile, loadTracingPolicyFile } from "./load-tracing-policy-file.js";
export { parseTracingPolicy } from "./parse-tracing-policy.js";
export { isPolicyError, PolicyError, type PolicyErrorOptions } from "./policy-error.js";
export {
  DEFAULT_POLICY_DOMAIN,
  formatPolicyKey,
  POLICY_DOMAINS,
  type PolicyKey,
  policyKey,
  policyKeyInDomain,
  policyKeysEqual,
} from "./policy-key.js";
export { resolvePolicyMode } from "./policy-mode.js";
export {
  resolveSyscallSymbol,
  SYSCALL_PREFIXES,
  type SyscallSymbol,
  type SyscallSymbolResult,
} from "./syscall-symbols.js";
export type * from "./tracing-policy-types.js";
export {
  imageRepository,
  labelSelectorMatches,
  POD_NAMESPACE_LABEL,
  type WorkloadIdentity,
  workloadInScope,
} from "./workload-scope.js";
export { X64_SYSCALLS } from "./x64-syscalls.js";
