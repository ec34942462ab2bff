// SPDX-License-Identifier: Apache-2.0

import { describe, expect, it } from "vitest";
import { dnsLabelProblem, dnsSubdomainProblem } from "./dns-names.js";

describe("DNS-1123 names", () => {
  it.each(["namespace-access", "a", "0", "a.b-c.d", "x".repeat(253)])("%s is a valid subdomain", (name) => {
    expect(dnsSubdomainProblem(name)).toBeUndefined();
  });

  it.each([
    ["", "must not be empty"],
    ["x".repeat(254), "must be at most 253 characters (got 254)"],
    ["Namespace", "must be a lowercase RFC 1123 subdomain"],
    ["a_b", "must be a lowercase RFC 1123 subdomain"],
    ["-a", "must be a lowercase RFC 1123 subdomain"],
    ["a.", "must be a lowercase RFC 1123 subdomain"],
    ["a..b", "must be a lowercase RFC 1123 subdomain"],
  ])("%j is not a subdomain: %s", (name, problem) => {
    expect(dnsSubdomainProblem(name)).toContain(problem);
  });

  it.each(["default", "kube-system", "a1"])("%s is a valid label", (name) => {
    expect(dnsLabelProblem(name)).toBeUndefined();
  });

  it.each([
    ["a.b", "must be a lowercase RFC 1123 label"],
    ["x".repeat(64), "must be at most 63 characters (got 64)"],
    ["Default", "must be a lowercase RFC 1123 label"],
    ["", "must not be empty"],
  ])("%j is not a label: %s", (name, problem) => {
    expect(dnsLabelProblem(name)).toContain(problem);
  });
});
