// SPDX-License-Identifier: Apache-2.0

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { compileTracingPolicy } from "./compile-tracing-policy.js";
import { parseTracingPolicy } from "./parse-tracing-policy.js";
import { NAMESPACE_ACCESS_FILE } from "./testing/seed-policies.js";
import { imageRepository, labelSelectorMatches, workloadInScope } from "./workload-scope.js";

/** The seed policy with extra spec lines (and optionally as a TracingPolicyNamespaced in `ns`). */
function seedWith(specLines: string[], namespace?: string) {
  let text = readFileSync(NAMESPACE_ACCESS_FILE, "utf8");
  if (namespace !== undefined) {
    text = text
      .replace("kind: TracingPolicy", "kind: TracingPolicyNamespaced")
      .replace('  name: "namespace-access"', `  name: "namespace-access"\n  namespace: ${namespace}`);
  }
  text = text.replace("spec:\n", `spec:\n${specLines.map((l) => `  ${l}\n`).join("")}`);
  return compileTracingPolicy(parseTracingPolicy(text, "s.yaml"), { arch: "x86_64" });
}

const web = {
  namespace: "shop",
  podLabels: { app: "web", tier: "front" },
  containerName: "nginx",
  containerRepo: "docker.io/library/nginx",
};

describe("compiled workload scope (Tetragon's selection truth table)", () => {
  it("no selectors: no scope, every workload", () => {
    expect(seedWith([]).scope).toBeUndefined();
    // hostSelector {} adds host processes to what is everything already.
    expect(seedWith(["hostSelector: {}"]).scope).toBeUndefined();
  });

  it("a TracingPolicyNamespaced: its namespace, never host processes", () => {
    expect(seedWith([], "shop").scope).toStrictEqual({ namespace: "shop", includeHost: false });
  });

  it("podSelector / containerSelector: only what they select; host processes only with hostSelector {}", () => {
    expect(seedWith(["podSelector: {matchLabels: {app: web}}"]).scope).toStrictEqual({
      podSelector: { matchLabels: { app: "web" } },
      includeHost: false,
    });
    // Even an empty selector restricts the policy to pod containers.
    expect(seedWith(["containerSelector: {}"]).scope).toStrictEqual({
      containerSelector: {},
      includeHost: false,
    });
    expect(seedWith(["podSelector: {}", "hostSelector: {}"]).scope).toStrictEqual({
      podSelector: {},
      includeHost: true,
    });
    expect(seedWith(["podSelector: {matchLabels: {app: web}}"], "shop").scope).toStrictEqual({
      namespace: "shop",
      podSelector: { matchLabels: { app: "web" } },
      includeHost: false,
    });
  });

  it("refuses containerSelector keys other than name and repo, at the key", () => {
    expect(() => seedWith(["containerSelector: {matchLabels: {image: nginx}}"])).toThrow(
      /spec\.containerSelector\.matchLabels\.image: unknown container field "image"; a containerSelector selects on name and repo/,
    );
    expect(() => seedWith(["containerSelector: {matchExpressions: [{key: tag, operator: Exists}]}"])).toThrow(
      /spec\.containerSelector\.matchExpressions\[0\]\.key: unknown container field "tag"/,
    );
  });
});

describe("workloadInScope", () => {
  it("namespace", () => {
    expect(workloadInScope({ namespace: "shop", includeHost: false }, web)).toBe(true);
    expect(workloadInScope({ namespace: "bank", includeHost: false }, web)).toBe(false);
  });

  it("podSelector over the pod labels, with Tetragon's namespace label", () => {
    const scope = (podSelector: object) => ({ podSelector, includeHost: false });
    expect(workloadInScope(scope({ matchLabels: { app: "web" } }), web)).toBe(true);
    expect(workloadInScope(scope({ matchLabels: { app: "db" } }), web)).toBe(false);
    expect(workloadInScope(scope({ matchLabels: { "k8s:io.kubernetes.pod.namespace": "shop" } }), web)).toBe(
      true,
    );
    expect(workloadInScope(scope({ matchLabels: { "k8s:io.kubernetes.pod.namespace": "bank" } }), web)).toBe(
      false,
    );
  });

  it("containerSelector over name and repo", () => {
    const scope = (containerSelector: object) => ({ containerSelector, includeHost: false });
    expect(workloadInScope(scope({ matchLabels: { name: "nginx" } }), web)).toBe(true);
    expect(workloadInScope(scope({ matchLabels: { repo: "docker.io/library/nginx" } }), web)).toBe(true);
    expect(
      workloadInScope(
        scope({ matchExpressions: [{ key: "name", operator: "In", values: ["sidecar"] }] }),
        web,
      ),
    ).toBe(false);
  });

  it("every part that is set must match", () => {
    const scope = {
      namespace: "shop",
      podSelector: { matchLabels: { app: "web" } },
      containerSelector: { matchLabels: { name: "sidecar" } },
      includeHost: false,
    };
    expect(workloadInScope(scope, web)).toBe(false);
    expect(workloadInScope(scope, { ...web, containerName: "sidecar" })).toBe(true);
  });
});

describe("labelSelectorMatches (Kubernetes LabelSelector semantics)", () => {
  const labels = { app: "web", tier: "front", empty: "" };
  it.each([
    [{}, true],
    [{ matchLabels: { app: "web" } }, true],
    [{ matchLabels: { app: "web", tier: "back" } }, false],
    [{ matchLabels: { missing: "" } }, false],
    [{ matchLabels: { empty: "" } }, true],
    [{ matchExpressions: [{ key: "app", operator: "In", values: ["db", "web"] }] }, true],
    [{ matchExpressions: [{ key: "app", operator: "In", values: ["db"] }] }, false],
    [{ matchExpressions: [{ key: "missing", operator: "In", values: ["x"] }] }, false],
    [{ matchExpressions: [{ key: "app", operator: "NotIn", values: ["web"] }] }, false],
    [{ matchExpressions: [{ key: "app", operator: "NotIn", values: ["db"] }] }, true],
    // NotIn holds for a label that is not there at all.
    [{ matchExpressions: [{ key: "missing", operator: "NotIn", values: ["x"] }] }, true],
    [{ matchExpressions: [{ key: "tier", operator: "Exists" }] }, true],
    [{ matchExpressions: [{ key: "missing", operator: "Exists" }] }, false],
    [{ matchExpressions: [{ key: "missing", operator: "DoesNotExist" }] }, true],
    [{ matchExpressions: [{ key: "empty", operator: "DoesNotExist" }] }, false],
    [
      {
        matchLabels: { app: "web" },
        matchExpressions: [{ key: "tier", operator: "In", values: ["back"] }],
      },
      false,
    ],
  ] as const)("%j → %s", (selector, expected) => {
    expect(labelSelectorMatches(selector as Parameters<typeof labelSelectorMatches>[0], labels)).toBe(
      expected,
    );
  });

  it("does not see inherited properties as labels", () => {
    expect(
      labelSelectorMatches({ matchExpressions: [{ key: "toString", operator: "Exists" }] }, labels),
    ).toBe(false);
  });
});

describe("imageRepository", () => {
  it.each([
    ["docker.io/library/ubuntu@sha256:aadf9a3f", "docker.io/library/ubuntu"],
    ["localhost/nsguard-bb:1", "localhost/nsguard-bb"],
    ["registry:5000/team/app:v2", "registry:5000/team/app"],
    ["registry:5000/team/app", "registry:5000/team/app"],
    ["nginx", "nginx"],
    ["nginx:1.27@sha256:abcd", "nginx"],
  ])("%s → %s", (image, repo) => {
    expect(imageRepository(image)).toBe(repo);
  });
});
