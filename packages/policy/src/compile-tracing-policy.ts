// SPDX-License-Identifier: Apache-2.0

import { goQuote } from "@nsguard/sdk";
import { ARCHES, type Arch, hostArch } from "./arch.js";
import { compileArgs, compileReturnArg } from "./compile-args.js";
import { compileSelector } from "./compile-selector.js";
import type {
  CompiledHook,
  CompiledPolicy,
  HookAttach,
  NamespaceCall,
  PolicyMode,
} from "./compiled-policy-types.js";
import { MAX_SELECTORS } from "./crd-limits.js";
import { fieldPath, itemPath } from "./field-path.js";
import { PolicyError } from "./policy-error.js";
import { resolvePolicyMode } from "./policy-mode.js";
import { isEmptyLabelSelector } from "./read-label-selector.js";
import { policyErrorAt } from "./source-locations.js";
import { resolveSyscallSymbol } from "./syscall-symbols.js";
import type { KProbeSpec, TracingPolicy } from "./tracing-policy-types.js";
import { compileWorkloadScope } from "./workload-scope.js";
import { X64_SYSCALLS } from "./x64-syscalls.js";

export interface CompileOptions {
  /** Target architecture; defaults to the running process's. Picks the syscall symbol prefix. */
  arch?: Arch;
  /** Overrides the policy's `policy-mode` option (like `tetra tracingpolicy add --mode`). */
  mode?: PolicyMode;
}

/**
 * Turns a parsed policy into what nsguard loads: hooks with attach points, reported arguments and
 * kernel selector tables. Anything nsguard cannot honour yet is refused with a PolicyError at the
 * field that asks for it; nothing that would change behaviour is dropped silently.
 */
export function compileTracingPolicy(policy: TracingPolicy, options: CompileOptions = {}): CompiledPolicy {
  const arch = options.arch ?? hostArch();
  if (arch === undefined) {
    throw new PolicyError(
      `nsguard does not support this machine's architecture (${process.arch}); pass arch explicitly`,
    );
  }
  if (!ARCHES.includes(arch)) {
    throw new PolicyError(
      `unsupported architecture ${JSON.stringify(arch)}; expected one of ${ARCHES.join(", ")}`,
    );
  }
  const mode = resolvePolicyMode(policy, options.mode);
  refuseUnsupportedSections(policy);

  const kprobes = policy.spec.kprobes ?? [];
  if (kprobes.length === 0) {
    throw policyErrorAt(policy, "spec.kprobes", "the policy defines no kprobes, so there is nothing to load");
  }
  const hooks: CompiledHook[] = [];
  kprobes.forEach((kprobe, i) => {
    for (const hook of compileKProbe(policy, kprobe, itemPath("spec.kprobes", i), arch, mode)) {
      hooks.push({ index: hooks.length, ...hook });
    }
  });

  const compiled: CompiledPolicy = { name: policy.metadata.name, kind: policy.kind, mode, hooks };
  if (policy.kind === "TracingPolicyNamespaced" && policy.metadata.namespace !== undefined) {
    compiled.namespace = policy.metadata.namespace;
  }
  const scope = compileWorkloadScope(policy);
  if (scope !== undefined) compiled.scope = scope;
  return compiled;
}

function refuseUnsupportedSections(policy: TracingPolicy): void {
  const spec = policy.spec;
  const sections = [
    ["tracepoints", spec.tracepoints],
    ["lsmhooks", spec.lsmhooks],
    ["uprobes", spec.uprobes],
    ["usdts", spec.usdts],
    ["fentries", spec.fentries],
    ["enforcers", spec.enforcers],
    ["state", spec.state],
  ] as const;
  for (const [name, entries] of sections) {
    if (entries !== undefined && entries.length > 0) {
      throw policyErrorAt(policy, `spec.${name}`, "not supported by nsguard yet");
    }
  }
  if (Object.keys(spec.selectorsMacros ?? {}).length > 0) {
    throw policyErrorAt(policy, "spec.selectorsMacros", "not supported by nsguard yet");
  }
  if (spec.loader === true) throw policyErrorAt(policy, "spec.loader", "not supported by nsguard yet");
  // podSelector, containerSelector and hostSelector become the policy's scope (workload-scope.ts);
  // an empty nodeSelector selects every node.
  if (spec.nodeSelector !== undefined && !isEmptyLabelSelector(spec.nodeSelector)) {
    throw policyErrorAt(policy, "spec.nodeSelector", "not supported by nsguard yet");
  }
}

type UnindexedHook = Omit<CompiledHook, "index">;

const NAMESPACE_CALLS: readonly string[] = ["setns", "unshare", "clone", "clone3"] satisfies NamespaceCall[];
function isNamespaceCall(syscall: string | undefined): syscall is NamespaceCall {
  return syscall !== undefined && NAMESPACE_CALLS.includes(syscall);
}

function compileKProbe(
  policy: TracingPolicy,
  kprobe: KProbeSpec,
  path: string,
  arch: Arch,
  mode: PolicyMode,
): UnindexedHook[] {
  refuseUnsupportedKProbeFields(policy, kprobe, path);
  const { args, fdArg, strings } = compileArgs(policy, kprobe.args ?? [], fieldPath(path, "args"));

  const selectors = kprobe.selectors ?? [];
  if (selectors.length > MAX_SELECTORS) {
    throw policyErrorAt(
      policy,
      fieldPath(path, "selectors"),
      `has ${selectors.length} selectors, at most ${MAX_SELECTORS} allowed`,
    );
  }
  // `return: true` needs a returnArg (checked by the reader, as the CRD's rule does).
  const returnArg =
    kprobe.return && kprobe.returnArg !== undefined
      ? compileReturnArg(policy, kprobe.returnArg, fieldPath(path, "returnArg"))
      : undefined;
  const selectorTables = selectors.map((selector, i) =>
    compileSelector(policy, selector, itemPath(fieldPath(path, "selectors"), i), mode, args, returnArg),
  );

  // Tetragon passes message and tags through Go's strconv.Quote and strips the outer quotes, so a
  // quote or a newline arrives escaped; nsguard emits the same text.
  const message = kprobe.message === undefined ? undefined : goQuoteContent(kprobe.message);
  const tags = (kprobe.tags ?? []).map(goQuoteContent);

  return resolveTargets(policy, kprobe, path, arch).map((target) => {
    const hook: UnindexedHook = {
      specPath: path,
      call: target.call,
      functionName: target.functionName,
      ...(target.syscall === undefined ? {} : { syscall: target.syscall }),
      attach: target.attach,
      args: args.map((arg) => ({ ...arg })),
      ...(message === undefined ? {} : { message }),
      tags: [...tags],
      ...(returnArg === undefined ? {} : { returnArg: { ...returnArg } }),
      table: {
        enabled: true,
        fdArg,
        // A namespace call's change (for setns: its descriptor, whatever type the policy gave it —
        // the seed policies say `int`) is resolved in the kernel from the call itself.
        ...(isNamespaceCall(target.syscall) ? { nsCall: target.syscall } : {}),
        strings: strings.map((read) => ({ ...read })),
        // Each hook of a list gets its own copy (the sensor gives each its own string filters).
        selectors: selectorTables.map((table) => structuredClone(table)),
        ...(returnArg === undefined ? {} : { atReturn: true as const }),
      },
    };
    return hook;
  });
}

// Fields of a kprobe entry that ask for something the syscall-tracepoint path cannot deliver yet.
function refuseUnsupportedKProbeFields(policy: TracingPolicy, kprobe: KProbeSpec, path: string): void {
  // A returnArg without return: true would never be reported (Tetragon reads it only for return probes).
  if (!kprobe.return && kprobe.returnArg !== undefined) {
    throw policyErrorAt(policy, fieldPath(path, "returnArg"), "is only used with return: true");
  }
  if (kprobe.returnArgAction !== undefined) {
    throw policyErrorAt(policy, fieldPath(path, "returnArgAction"), "not supported by nsguard yet");
  }
  if ((kprobe.data ?? []).length > 0)
    throw policyErrorAt(policy, fieldPath(path, "data"), "not supported by nsguard yet");
  if (kprobe.ignore?.callNotFound === true) {
    throw policyErrorAt(
      policy,
      fieldPath(fieldPath(path, "ignore"), "callNotFound"),
      "not supported by nsguard yet",
    );
  }
}

interface Target {
  call: string;
  functionName: string;
  syscall?: string;
  attach: HookAttach;
}

/** The syscall names of each architecture nsguard has a number table for. */
const SYSCALL_TABLES: Readonly<Partial<Record<Arch, Readonly<Record<string, number>>>>> = {
  x86_64: X64_SYSCALLS,
};

const LIST_PREFIX = "list:";
// Kernel symbols, including compiler-made local ones such as `foo.isra.0`.
const KERNEL_SYMBOL = /^[A-Za-z_][A-Za-z0-9_.]*$/;

function resolveTargets(policy: TracingPolicy, kprobe: KProbeSpec, path: string, arch: Arch): Target[] {
  const callPath = fieldPath(path, "call");
  if (!kprobe.call.startsWith(LIST_PREFIX)) {
    return [
      kprobe.syscall
        ? syscallTarget(policy, kprobe.call, callPath, arch)
        : kprobeTarget(policy, kprobe.call, callPath),
    ];
  }

  const listName = kprobe.call.slice(LIST_PREFIX.length);
  const lists = policy.spec.lists ?? [];
  const listIndex = lists.findIndex((list) => list.name === listName);
  const list = lists[listIndex];
  if (list === undefined) {
    throw policyErrorAt(policy, callPath, `list ${JSON.stringify(listName)} is not defined in spec.lists`);
  }
  const listPath = itemPath("spec.lists", listIndex);
  if (list.type !== "syscalls") {
    const what = list.type === undefined ? "a list without type" : `list type ${list.type}`;
    throw policyErrorAt(
      policy,
      fieldPath(listPath, "type"),
      `${what} as a kprobe call is not supported by nsguard yet (only type syscalls)`,
    );
  }
  const values = list.values ?? [];
  if (values.length === 0) {
    throw policyErrorAt(
      policy,
      fieldPath(listPath, "values"),
      `list ${JSON.stringify(listName)} has no values, so the hook would attach nowhere`,
    );
  }
  // A syscalls list makes every value a syscall, whatever the kprobe's own `syscall` says (as in Tetragon).
  return values.map((value, i) =>
    syscallTarget(policy, value, itemPath(fieldPath(listPath, "values"), i), arch),
  );
}

function syscallTarget(policy: TracingPolicy, call: string, path: string, arch: Arch): Target {
  const resolved = resolveSyscallSymbol(call, arch);
  if (!resolved.ok) throw policyErrorAt(policy, path, resolved.reason);
  // Tetragon finds out at load time, when the symbol is missing from the kernel; the UAPI table
  // says it before any kernel is involved (arm64 has no table here: its sensor refuses instead).
  const known = SYSCALL_TABLES[arch];
  if (known !== undefined && !Object.hasOwn(known, resolved.syscall)) {
    throw policyErrorAt(
      policy,
      path,
      `${JSON.stringify(call)}: ${arch} has no syscall named ${resolved.syscall}`,
    );
  }
  return {
    call,
    functionName: resolved.functionName,
    syscall: resolved.syscall,
    attach: { kind: "syscall-tracepoint", category: "syscalls", enter: `sys_enter_${resolved.syscall}` },
  };
}

function kprobeTarget(policy: TracingPolicy, call: string, path: string): Target {
  if (!KERNEL_SYMBOL.test(call)) {
    throw policyErrorAt(policy, path, `${JSON.stringify(call)} is not a kernel symbol name`);
  }
  return { call, functionName: call, attach: { kind: "kprobe", symbol: call } };
}

function goQuoteContent(text: string): string {
  return goQuote(text).slice(1, -1);
}
