// SPDX-License-Identifier: Apache-2.0

// The policy store keys policies like Tetragon's sensor collections: name + namespace + domain
// (reference §1.2). The same name may be loaded once per namespace and once per domain.

/** Where a policy came from. */
export const POLICY_DOMAINS = {
  /** Loaded from a file or directory at start-up. */
  static: "static",
  /** Added through AddTracingPolicy (the default when a request leaves domain empty). */
  grpc: "grpc",
  /** From Kubernetes custom resources. */
  k8s: "k8s",
} as const;

export const DEFAULT_POLICY_DOMAIN = POLICY_DOMAINS.grpc;

export interface PolicyKey {
  name: string;
  /** "" for cluster-wide policies. */
  namespace: string;
  domain: string;
}

/**
 * The store key for a policy or for the name/namespace/domain of a request. An empty or missing
 * domain means `grpc` and a missing namespace means cluster-wide, as in Tetragon's RPCs.
 */
export function policyKey(policy: {
  name: string;
  namespace?: string | undefined;
  domain?: string | undefined;
}): PolicyKey {
  return {
    name: policy.name,
    namespace: policy.namespace ?? "",
    domain: policy.domain === undefined || policy.domain === "" ? DEFAULT_POLICY_DOMAIN : policy.domain,
  };
}

/**
 * A string form for Map keys and messages: `domain/namespace/name`. Unambiguous because names and
 * namespaces are DNS names, which never contain `/`.
 */
export function formatPolicyKey(key: PolicyKey): string {
  return `${key.domain}/${key.namespace}/${key.name}`;
}

export function policyKeysEqual(a: PolicyKey, b: PolicyKey): boolean {
  return a.name === b.name && a.namespace === b.namespace && a.domain === b.domain;
}

/**
 * Whether a stored policy's key is selected by a listing filter: ListTracingPolicies with an empty
 * domain lists every domain.
 */
export function policyKeyInDomain(key: PolicyKey, domain: string | undefined): boolean {
  return domain === undefined || domain === "" || key.domain === domain;
}
