// SPDX-License-Identifier: Apache-2.0

import type { WorkloadScope } from "./compiled-policy-types.js";
import { fieldPath, itemPath } from "./field-path.js";
import { policyErrorAt } from "./source-locations.js";
import type { LabelSelector, TracingPolicy } from "./tracing-policy-types.js";

/**
 * Tetragon's workload selection (k8s-filtering, pkg/policyfilter), compiled to a scope the agent
 * keeps in the kernel:
 * - a TracingPolicyNamespaced applies only to pods of its namespace (never to host processes: its
 *   CRD forbids hostSelector);
 * - spec.podSelector (pod labels) and spec.containerSelector (keys `name` and `repo`) restrict the
 *   policy to the containers they select, and then host processes are out unless
 *   `hostSelector: {}` brings them back;
 * - none of them: every workload, host included (no scope at all). `hostSelector: {}` alone adds
 *   host processes to what is already everything, so it changes nothing.
 */
export function compileWorkloadScope(policy: TracingPolicy): WorkloadScope | undefined {
  const { podSelector, containerSelector, hostSelector } = policy.spec;
  const namespace = policy.kind === "TracingPolicyNamespaced" ? policy.metadata.namespace : undefined;
  if (namespace === undefined && podSelector === undefined && containerSelector === undefined)
    return undefined;
  for (const [i, requirement] of (containerSelector?.matchExpressions ?? []).entries()) {
    refuseContainerKey(
      policy,
      fieldPath(itemPath("spec.containerSelector.matchExpressions", i), "key"),
      requirement.key,
    );
  }
  for (const key of Object.keys(containerSelector?.matchLabels ?? {})) {
    refuseContainerKey(policy, fieldPath("spec.containerSelector.matchLabels", key), key);
  }
  const scope: WorkloadScope = { includeHost: hostSelector !== undefined };
  if (namespace !== undefined) scope.namespace = namespace;
  if (podSelector !== undefined) scope.podSelector = podSelector;
  if (containerSelector !== undefined) scope.containerSelector = containerSelector;
  return scope;
}

/** The container fields a containerSelector can select on (Tetragon's containerInfo). */
const CONTAINER_KEYS = ["name", "repo"];

/**
 * Tetragon matches a containerSelector against exactly these two fields, so any other key
 * would silently select as an absent label; refused instead, at the key.
 */
function refuseContainerKey(policy: TracingPolicy, path: string, key: string): void {
  if (!CONTAINER_KEYS.includes(key)) {
    throw policyErrorAt(
      policy,
      path,
      `unknown container field ${JSON.stringify(key)}; a containerSelector selects on ${CONTAINER_KEYS.join(" and ")}`,
    );
  }
}

/** What a scope is matched against: one container of a pod. */
export interface WorkloadIdentity {
  namespace: string;
  podLabels: Readonly<Record<string, string>>;
  /** The container's name in its pod. */
  containerName: string;
  /** The container image's repository, without tag or digest (`docker.io/library/nginx`). */
  containerRepo: string;
}

/**
 * Tetragon adds the pod's namespace to its labels under this key before matching a podSelector
 * (policyfilter podMatches), so a selector can name namespaces too.
 */
export const POD_NAMESPACE_LABEL = "k8s:io.kubernetes.pod.namespace";

/** Whether a container of a pod is in the scope. */
export function workloadInScope(scope: WorkloadScope, workload: WorkloadIdentity): boolean {
  if (scope.namespace !== undefined && workload.namespace !== scope.namespace) return false;
  if (scope.podSelector !== undefined) {
    const labels = Object.hasOwn(workload.podLabels, POD_NAMESPACE_LABEL)
      ? workload.podLabels
      : { ...workload.podLabels, [POD_NAMESPACE_LABEL]: workload.namespace };
    if (!labelSelectorMatches(scope.podSelector, labels)) return false;
  }
  if (scope.containerSelector !== undefined) {
    const fields = { name: workload.containerName, repo: workload.containerRepo };
    if (!labelSelectorMatches(scope.containerSelector, fields)) return false;
  }
  return true;
}

/**
 * A Kubernetes LabelSelector (metav1.LabelSelectorAsSelector): every matchLabels entry and every
 * matchExpressions requirement must hold; `{}` selects everything.
 */
export function labelSelectorMatches(
  selector: LabelSelector,
  labels: Readonly<Record<string, string>>,
): boolean {
  const value = (key: string): string | undefined => (Object.hasOwn(labels, key) ? labels[key] : undefined);
  for (const [key, want] of Object.entries(selector.matchLabels ?? {})) {
    if (value(key) !== want) return false;
  }
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    const v = value(key);
    const ok =
      operator === "In"
        ? v !== undefined && values.includes(v)
        : operator === "NotIn"
          ? v === undefined || !values.includes(v)
          : operator === "Exists"
            ? v !== undefined
            : v === undefined; // DoesNotExist
    if (!ok) return false;
  }
  return true;
}

/** The repository of an image reference: without `@digest` and without a `:tag` after the last `/`. */
export function imageRepository(image: string): string {
  const at = image.indexOf("@");
  const name = at < 0 ? image : image.slice(0, at);
  const colon = name.lastIndexOf(":");
  return colon > name.lastIndexOf("/") ? name.slice(0, colon) : name;
}
