// SPDX-License-Identifier: Apache-2.0

import { fileURLToPath } from "node:url";
import type { CompiledPolicy } from "../compiled-policy-types.js";
import type { TracingPolicy } from "../tracing-policy-types.js";

// The two policies of the namespace-access use case (seed spec), as committed under examples/, and
// what they must become. Shared by the parse, compile and file-loading tests.

export const NAMESPACE_ACCESS_FILE = fileURLToPath(
  new URL("../../../../examples/namespace-access.yaml", import.meta.url),
);
export const DENY_NAMESPACE_ACCESS_FILE = fileURLToPath(
  new URL("../../../../examples/deny-namespace-access.yaml", import.meta.url),
);

const SETNS_ARGS = [
  { index: 0, type: "int", resolve: "", returnCopy: false, maxData: false },
  { index: 1, type: "int", resolve: "", returnCopy: false, maxData: false },
] as const;

export const NAMESPACE_ACCESS_POLICY: TracingPolicy = {
  apiVersion: "cilium.io/v1alpha1",
  kind: "TracingPolicy",
  metadata: { name: "namespace-access" },
  spec: {
    kprobes: [{ call: "sys_setns", syscall: true, return: false, args: SETNS_ARGS.map((a) => ({ ...a })) }],
  },
};

export const DENY_NAMESPACE_ACCESS_POLICY: TracingPolicy = {
  apiVersion: "cilium.io/v1alpha1",
  kind: "TracingPolicy",
  metadata: { name: "deny-namespace-access" },
  spec: {
    kprobes: [
      {
        call: "sys_setns",
        syscall: true,
        return: false,
        args: SETNS_ARGS.map((a) => ({ ...a })),
        selectors: [
          {
            matchPIDs: [{ operator: "NotIn", values: [0, 1], isNamespacePID: true, followForks: true }],
            matchActions: [{ action: "Sigkill" }],
          },
        ],
      },
    ],
  },
};

function setnsHook(
  arch: "x86_64" | "arm64",
  selectors: CompiledPolicy["hooks"][number]["table"]["selectors"],
) {
  return {
    index: 0,
    specPath: "spec.kprobes[0]",
    call: "sys_setns",
    functionName: arch === "x86_64" ? "__x64_sys_setns" : "__arm64_sys_setns",
    syscall: "setns",
    attach: { kind: "syscall-tracepoint", category: "syscalls", enter: "sys_enter_setns" },
    args: [
      { index: 0, kind: "int_arg" },
      { index: 1, kind: "int_arg" },
    ],
    tags: [],
    table: { enabled: true, fdArg: -1, nsCall: "setns", strings: [], selectors },
  } satisfies CompiledPolicy["hooks"][number];
}

export function compiledNamespaceAccess(arch: "x86_64" | "arm64" = "x86_64"): CompiledPolicy {
  return { name: "namespace-access", kind: "TracingPolicy", mode: "enforce", hooks: [setnsHook(arch, [])] };
}

export function compiledDenyNamespaceAccess(arch: "x86_64" | "arm64" = "x86_64"): CompiledPolicy {
  return {
    name: "deny-namespace-access",
    kind: "TracingPolicy",
    mode: "enforce",
    hooks: [
      setnsHook(arch, [
        { pids: { op: "NotIn", isNamespacePid: true, followForks: true, values: [0, 1] }, action: 3 },
      ]),
    ],
  };
}
