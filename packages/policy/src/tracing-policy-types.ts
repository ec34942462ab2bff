// SPDX-License-Identifier: Apache-2.0

import type {
  ActionName,
  ArgOperator,
  ArgType,
  BinaryOperator,
  CapabilityName,
  CapabilityType,
  CmdArgOperator,
  LabelSelectorOperator,
  ListType,
  NamespaceName,
  RateLimitScope,
  ReturnArgAction,
  SetOperator,
  StateOperator,
  StateUpdateOperator,
  TracingPolicyKind,
} from "./crd-enums.js";

// The TracingPolicy custom resource as Tetragon defines it (pkg/k8s/apis/cilium.io/v1alpha1), after
// parsing: CRD defaults are filled in (they are plain required properties here), fields without a
// default stay optional and are absent when the YAML leaves them out or sets them to null, and
// enumerations are in their canonical CRD spelling whatever case or alias the YAML used.

export interface TracingPolicy {
  apiVersion: "cilium.io/v1alpha1";
  kind: TracingPolicyKind;
  metadata: PolicyMetadata;
  spec: TracingPolicySpec;
}

/** The subset of Kubernetes ObjectMeta a policy file may carry (what `kubectl get -o yaml` writes). */
export interface PolicyMetadata {
  /** DNS-1123 subdomain. */
  name: string;
  /** Only for TracingPolicyNamespaced, where it is required. DNS-1123 label. */
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
}

export interface TracingPolicySpec {
  kprobes?: KProbeSpec[];
  tracepoints?: TracepointSpec[];
  /** Emit process_loader events. */
  loader?: boolean;
  uprobes?: UProbeSpec[];
  lsmhooks?: LsmHookSpec[];
  usdts?: UsdtSpec[];
  /** Same shape as kprobes, attached with fentry. */
  fentries?: KProbeSpec[];
  podSelector?: LabelSelector;
  /** Keys are container fields (`name`, `repo`). */
  containerSelector?: LabelSelector;
  /** Only `{}` (also select host workloads) is allowed; absent means no host selection change. */
  hostSelector?: LabelSelector;
  /** Which nodes load the policy (k8s-managed policies). */
  nodeSelector?: LabelSelector;
  lists?: ListSpec[];
  enforcers?: EnforcerSpec[];
  options?: OptionSpec[];
  /** Named selectors that a selector pulls in with `macros: [name]`. */
  selectorsMacros?: Record<string, KProbeSelector>;
  /** State objects shared by the policy's hooks (matchStates / UpdateState). */
  state?: StateSpec[];
}

export interface KProbeSpec {
  /** A kernel symbol, a syscall name (with `syscall: true`), or `list:NAME`. */
  call: string;
  /** CRD default: true. */
  syscall: boolean;
  /** CRD default: false. */
  return: boolean;
  message?: string;
  args?: KProbeArg[];
  data?: KProbeArg[];
  returnArg?: KProbeArg;
  returnArgAction?: ReturnArgAction;
  selectors?: KProbeSelector[];
  tags?: string[];
  ignore?: { callNotFound?: boolean };
}

export interface KProbeArg {
  /** Position in the function prototype. */
  index: number;
  /** CRD default: auto. */
  type: ArgType;
  /** CRD default: "". A dotted BTF path into the argument. */
  resolve: string;
  /** CRD default: false. */
  returnCopy: boolean;
  /** CRD default: false. */
  maxData: boolean;
  /** 1-based (sic) index of the size argument of a char_buf / char_iovec. */
  sizeArgIndex?: number;
  label?: string;
  source?: string;
  btfType?: string;
  btfTypeModule?: string;
}

export interface TracepointSpec {
  subsystem: string;
  event: string;
  message?: string;
  args?: KProbeArg[];
  selectors?: KProbeSelector[];
  tags?: string[];
  raw?: boolean;
}

export interface LsmHookSpec {
  /** LSM hook name without `security_`, e.g. `file_open`. */
  hook: string;
  message?: string;
  args?: KProbeArg[];
  selectors?: KProbeSelector[];
  tags?: string[];
}

export interface UProbeSpec {
  path: string;
  symbols?: string[];
  addrs?: number[];
  offsets?: number[];
  refCtrOffsets?: number[];
  message?: string;
  args?: KProbeArg[];
  data?: KProbeArg[];
  /** CRD default: false. */
  return: boolean;
  returnArg?: KProbeArg;
  selectors?: KProbeSelector[];
  tags?: string[];
  btfPath?: string;
  binaryDigests?: string[];
  ignore?: { digestVerificationFailure?: boolean };
}

export interface UsdtSpec {
  path: string;
  provider: string;
  name: string;
  message?: string;
  args?: KProbeArg[];
  selectors?: KProbeSelector[];
  tags?: string[];
  btfPath?: string;
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export interface LabelSelectorRequirement {
  key: string;
  operator: LabelSelectorOperator;
  values?: string[];
}

export interface ListSpec {
  name: string;
  values?: string[];
  type?: ListType;
  /** Only for generated lists. */
  pattern?: string;
  validated?: boolean;
}

export interface EnforcerSpec {
  calls: string[];
}

export interface OptionSpec {
  name: string;
  value?: string;
}

export interface StateSpec {
  name: string;
}

/**
 * One selector. Selectors of a hook are ORed and short-circuit; the filters inside one are ANDed.
 * An empty selector matches; a selector without matchActions posts.
 */
export interface KProbeSelector {
  /** Shown in status and metrics. */
  label?: string;
  macros?: string[];
  matchPIDs?: PIDSelector[];
  matchArgs?: ArgSelector[];
  matchData?: ArgSelector[];
  matchReturnArgs?: ArgSelector[];
  matchActions?: ActionSelector[];
  matchReturnActions?: ActionSelector[];
  matchBinaries?: BinarySelector[];
  matchParentBinaries?: BinarySelector[];
  matchNamespaces?: NamespaceSelector[];
  matchNamespaceChanges?: NamespaceChangesSelector[];
  matchCapabilities?: CapabilitiesSelector[];
  matchCapabilityChanges?: CapabilitiesSelector[];
  matchCEL?: { expr: string };
  matchCmdArgs?: CmdArgSelector[];
  matchStates?: StateSelector[];
  matchUserCallers?: UserCallerSelector[];
  matchWorkloads?: WorkloadSelector;
  /**
   * nsguard extension, not in Tetragon's CRD: the call enters the host's namespace of one of these
   * kinds (In) — or of none of them (NotIn) — from a namespace of that kind that is not the host's.
   * The kernel's own verdict on setns (and a pidfd's setns), so a policy can kill exactly the
   * container process that enters a host namespace and never the runtime entering a container.
   * Same shape as matchNamespaceChanges; one entry.
   */
  matchHostNamespaceEntry?: NamespaceChangesSelector[];
}

export interface PIDSelector {
  operator: SetOperator;
  values: number[];
  /** CRD default: false. Compare the PID as seen in the task's own PID namespace. */
  isNamespacePID: boolean;
  /** CRD default: false. Also match descendants of matching processes. */
  followForks: boolean;
}

export interface ArgSelector {
  /** Function-argument index. */
  index?: number;
  /** 0-based positions in the spec's `args` list; override `index`. */
  args?: number[];
  operator: ArgOperator;
  values?: string[];
}

export interface BinarySelector {
  operator: BinaryOperator;
  values: string[];
  /** CRD default: false. */
  followChildren: boolean;
}

export interface NamespaceSelector {
  namespace: NamespaceName;
  operator: SetOperator;
  /** Namespace inode numbers, or `host_ns`. */
  values: string[];
}

export interface NamespaceChangesSelector {
  operator: SetOperator;
  values: NamespaceName[];
}

export interface CapabilitiesSelector {
  /** CRD default: Effective. */
  type: CapabilityType;
  operator: SetOperator;
  /** CRD default: false. */
  isNamespaceCapability: boolean;
  values: CapabilityName[];
}

export interface CmdArgSelector {
  /** argv index, 0 = argv[1]. */
  index: number;
  operator: CmdArgOperator;
  values: string[];
}

export interface StateSelector {
  name: string;
  operator: StateOperator;
  value: string;
}

export interface UserCallerSelector {
  /** `any` or a positive distance. */
  depth: string;
  symbol?: string;
  path?: string;
  startRange?: number;
  endRange?: number;
}

export interface WorkloadSelector {
  podSelector?: LabelSelector;
  containerSelector?: LabelSelector;
  hostSelector?: LabelSelector;
}

export interface ActionSelector {
  action: ActionName;
  argError?: number;
  argSig?: number;
  argUrl?: string;
  argFqdn?: string;
  argSock?: number;
  argIndex?: number;
  argValue?: number;
  argRegs?: string[];
  argNewSymbol?: string;
  argNewAddr?: number;
  argNewOffset?: number;
  /** `N`, `Ns`, `Nm` or `Nh`. */
  rateLimit?: string;
  rateLimitScope?: RateLimitScope;
  kernelStackTrace?: boolean;
  userStackTrace?: boolean;
  imaHash?: boolean;
  stateName?: string;
  stateNewValue?: string;
  stateUpdateOperator?: StateUpdateOperator;
}
