import * as k8s from "@kubernetes/client-node";
import { DaemonSet } from "kubernetes-models/apps/v1/DaemonSet";
import { ClusterRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole";
import { ClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import type { Manifest } from "./manifests.js";

/**
 * Offline validation of a Kubernetes object, in two parts, since no API server runs here:
 *  - kubernetes-models: validators generated from the Kubernetes OpenAPI schema (types, required
 *    fields, enums, int-or-string …). Those schemas allow unknown fields, as the API server's
 *    non-strict decoding does, so a misspelt field would pass;
 *  - a strict walk against @kubernetes/client-node's generated models (every field of every type,
 *    from the same OpenAPI schema): each key must be a field of its type, as `kubectl apply
 *    --validate=strict` (server-side field validation) demands.
 */

interface Model {
  validate(): void;
}
// The models' constructors are typed for their own kind; the manifests are untyped until validated.
// biome-ignore lint/suspicious/noExplicitAny: see above
const MODELS: Record<string, new (data: any) => Model> = {
  "v1/Namespace": Namespace,
  "v1/ServiceAccount": ServiceAccount,
  "v1/ConfigMap": ConfigMap,
  "rbac.authorization.k8s.io/v1/ClusterRole": ClusterRole,
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": ClusterRoleBinding,
  "apps/v1/DaemonSet": DaemonSet,
};
const TYPES: Record<string, string> = {
  "v1/Namespace": "V1Namespace",
  "v1/ServiceAccount": "V1ServiceAccount",
  "v1/ConfigMap": "V1ConfigMap",
  "rbac.authorization.k8s.io/v1/ClusterRole": "V1ClusterRole",
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": "V1ClusterRoleBinding",
  "apps/v1/DaemonSet": "V1DaemonSet",
};

/** Every problem found (empty: valid). */
export function validateManifest(manifest: Manifest): string[] {
  const key = `${manifest.apiVersion}/${manifest.kind}`;
  const Model = MODELS[key];
  const type = TYPES[key];
  if (!Model || !type) return [`no schema for ${key}`];
  const errors: string[] = [];
  try {
    new Model(manifest).validate();
  } catch (err) {
    errors.push((err as Error).message);
  }
  strictFields(manifest, type, "", errors);
  return errors;
}

interface Attribute {
  baseName: string;
  type: string;
}
type ModelClass = { getAttributeTypeMap(): Attribute[] };

function strictFields(value: unknown, type: string, path: string, errors: string[]): void {
  if (value === null || value === undefined) return;
  const array = /^Array<(.+)>$/.exec(type);
  if (array) {
    if (Array.isArray(value)) {
      for (const [i, v] of value.entries()) strictFields(v, array[1] as string, `${path}[${i}]`, errors);
    }
    return;
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    if (typeof value === "object") {
      for (const [k, v] of Object.entries(value)) strictFields(v, map[1] as string, `${path}.${k}`, errors);
    }
    return;
  }
  const model = (k8s as unknown as Record<string, ModelClass | undefined>)[type];
  // Scalars (string, number, boolean, Date, IntOrString, object): the schema validator's part.
  if (typeof model?.getAttributeTypeMap !== "function" || typeof value !== "object" || Array.isArray(value))
    return;
  const fields = new Map(model.getAttributeTypeMap().map((a) => [a.baseName, a.type]));
  for (const [k, v] of Object.entries(value)) {
    const fieldType = fields.get(k);
    if (fieldType === undefined) errors.push(`${path || "."}: unknown field "${k}" of ${type}`);
    else strictFields(v, fieldType, path ? `${path}.${k}` : k, errors);
  }
}
