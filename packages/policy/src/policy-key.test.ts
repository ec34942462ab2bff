// SPDX-License-Identifier: Apache-2.0

import { describe, expect, it } from "vitest";
import { formatPolicyKey, policyKey, policyKeyInDomain, policyKeysEqual } from "./policy-key.js";

describe("policy keys (name + namespace + domain)", () => {
  it.each([
    [{ name: "a" }, { name: "a", namespace: "", domain: "grpc" }],
    [
      { name: "a", domain: "" },
      { name: "a", namespace: "", domain: "grpc" },
    ],
    [
      { name: "a", namespace: "team", domain: "k8s" },
      { name: "a", namespace: "team", domain: "k8s" },
    ],
    [
      { name: "a", namespace: undefined, domain: "static" },
      { name: "a", namespace: "", domain: "static" },
    ],
  ])("policyKey(%j)", (input, key) => {
    expect(policyKey(input)).toStrictEqual(key);
  });

  it("keys a compiled policy by its name and namespace", () => {
    const compiled = { name: "deny", namespace: "team", kind: "TracingPolicyNamespaced" as const };
    expect(policyKey({ ...compiled, domain: "static" })).toStrictEqual({
      name: "deny",
      namespace: "team",
      domain: "static",
    });
  });

  it("formats keys so that different keys never collide", () => {
    const keys = [
      policyKey({ name: "a" }),
      policyKey({ name: "a", domain: "static" }),
      policyKey({ name: "a", namespace: "b" }),
      policyKey({ name: "b", namespace: "a" }),
    ];
    expect(keys.map(formatPolicyKey)).toStrictEqual(["grpc//a", "static//a", "grpc/b/a", "grpc/a/b"]);
    expect(new Set(keys.map(formatPolicyKey)).size).toBe(keys.length);
  });

  it("compares keys field by field", () => {
    expect(policyKeysEqual(policyKey({ name: "a" }), policyKey({ name: "a", domain: "grpc" }))).toBe(true);
    expect(policyKeysEqual(policyKey({ name: "a" }), policyKey({ name: "a", domain: "k8s" }))).toBe(false);
    expect(policyKeysEqual(policyKey({ name: "a" }), policyKey({ name: "a", namespace: "x" }))).toBe(false);
    expect(policyKeysEqual(policyKey({ name: "a" }), policyKey({ name: "b" }))).toBe(false);
  });

  it("an empty domain filter lists every domain", () => {
    const key = policyKey({ name: "a", domain: "static" });
    expect(policyKeyInDomain(key, undefined)).toBe(true);
    expect(policyKeyInDomain(key, "")).toBe(true);
    expect(policyKeyInDomain(key, "static")).toBe(true);
    expect(policyKeyInDomain(key, "grpc")).toBe(false);
  });
});
