// SPDX-License-Identifier: Apache-2.0

import { MAX_NAME_LENGTH, MAX_NAMESPACE_LENGTH } from "./crd-limits.js";

// Kubernetes object naming (k8s.io/apimachinery validation IsDNS1123Subdomain / IsDNS1123Label),
// which Tetragon applies to metadata even for policies loaded from files.

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Why `name` is not a valid DNS-1123 subdomain, or undefined if it is one. */
export function dnsSubdomainProblem(name: string): string | undefined {
  if (name.length === 0) return "must not be empty";
  if (name.length > MAX_NAME_LENGTH)
    return `must be at most ${MAX_NAME_LENGTH} characters (got ${name.length})`;
  if (!DNS1123_SUBDOMAIN.test(name)) {
    return "must be a lowercase RFC 1123 subdomain: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit";
  }
  return undefined;
}

/** Why `name` is not a valid DNS-1123 label (a namespace name), or undefined if it is one. */
export function dnsLabelProblem(name: string): string | undefined {
  if (name.length === 0) return "must not be empty";
  if (name.length > MAX_NAMESPACE_LENGTH)
    return `must be at most ${MAX_NAMESPACE_LENGTH} characters (got ${name.length})`;
  if (!DNS1123_LABEL.test(name)) {
    return "must be a lowercase RFC 1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit";
  }
  return undefined;
}
