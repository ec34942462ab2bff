// SPDX-License-Identifier: Apache-2.0

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { type CompileOptions, compileTracingPolicy } from "./compile-tracing-policy.js";
import type { CompiledPolicy } from "./compiled-policy-types.js";
import { parseTracingPolicy } from "./parse-tracing-policy.js";
import { PolicyError } from "./policy-error.js";
import {
  compiledDenyNamespaceAccess,
  compiledNamespaceAccess,
  DENY_NAMESPACE_ACCESS_FILE,
  DENY_NAMESPACE_ACCESS_POLICY,
  NAMESPACE_ACCESS_FILE,
} from "./testing/seed-policies.js";
import type { TracingPolicy } from "./tracing-policy-types.js";

const X86: CompileOptions = { arch: "x86_64" };

/** A cluster policy named "test" whose spec is `specLines`; spec line n is file line n + 5. */
function policyWithSpec(...specLines: string[]): string {
  return [
    "apiVersion: cilium.io/v1alpha1",
    "kind: TracingPolicy",
    "metadata:",
    "  name: test",
    "spec:",
    ...specLines.map((l) => `  ${l}`),
    "",
  ].join("\n");
}

/** One setns kprobe plus `kprobeLines`; kprobe line n is file line n + 7, its text starts at column 5. */
function setnsWith(...kprobeLines: string[]): string {
  return policyWithSpec("kprobes:", "- call: sys_setns", ...kprobeLines.map((l) => `  ${l}`));
}

function compileText(text: string, options: CompileOptions = X86): CompiledPolicy {
  return compileTracingPolicy(parseTracingPolicy(text, "c.yaml"), options);
}

function compileError(text: string, options: CompileOptions = X86): PolicyError {
  const policy = parseTracingPolicy(text, "c.yaml");
  try {
    compileTracingPolicy(policy, options);
  } catch (error) {
    if (error instanceof PolicyError) return error;
    throw error;
  }
  throw new Error("expected a PolicyError");
}

describe("compileTracingPolicy: the seed policies", () => {
  it.each([
    ["namespace-access", NAMESPACE_ACCESS_FILE, compiledNamespaceAccess],
    ["deny-namespace-access", DENY_NAMESPACE_ACCESS_FILE, compiledDenyNamespaceAccess],
  ] as const)("%s compiles to the exact kernel tables on both architectures", (_name, file, expected) => {
    const policy = parseTracingPolicy(readFileSync(file, "utf8"), file);
    expect(compileTracingPolicy(policy, { arch: "x86_64" })).toStrictEqual(expected("x86_64"));
    expect(compileTracingPolicy(policy, { arch: "arm64" })).toStrictEqual(expected("arm64"));
  });

  it("compiles a policy built in code, without touching it", () => {
    const policy: TracingPolicy = structuredClone(DENY_NAMESPACE_ACCESS_POLICY);
    const compiled = compileTracingPolicy(policy, X86);
    expect(compiled).toStrictEqual(compiledDenyNamespaceAccess());
    expect(policy).toStrictEqual(DENY_NAMESPACE_ACCESS_POLICY);
    // The table must not alias the policy: the sensor may patch values (e.g. enabled) in place.
    compiled.hooks[0]?.table.selectors[0]?.pids?.values.push(99);
    expect(policy.spec.kprobes?.[0]?.selectors?.[0]?.matchPIDs?.[0]?.values).toStrictEqual([0, 1]);
  });
});

describe("compileTracingPolicy: syscall names (reference §2.6)", () => {
  it.each([
    ["sys_setns", "x86_64", "__x64_sys_setns", "setns"],
    ["__x64_sys_setns", "x86_64", "__x64_sys_setns", "setns"],
    ["sys_setns", "arm64", "__arm64_sys_setns", "setns"],
    ["__arm64_sys_setns", "arm64", "__arm64_sys_setns", "setns"],
    ["sys_unshare", "x86_64", "__x64_sys_unshare", "unshare"],
    ["sys_clone3", "arm64", "__arm64_sys_clone3", "clone3"],
  ] as const)("%s on %s → %s", (call, arch, functionName, syscall) => {
    const hook = compileText(policyWithSpec("kprobes:", `- call: ${call}`), { arch }).hooks[0];
    expect(hook).toMatchObject({
      call,
      functionName,
      syscall,
      attach: { kind: "syscall-tracepoint", category: "syscalls", enter: `sys_enter_${syscall}` },
    });
  });

  it.each([
    [
      "__arm64_sys_setns",
      "x86_64",
      'c.yaml:7:5: spec.kprobes[0].call: "__arm64_sys_setns" carries the arm64 syscall prefix "__arm64_", but the target architecture is x86_64 (prefix "__x64_"); write "sys_setns" and nsguard adds the right prefix',
    ],
    [
      "__x64_sys_setns",
      "arm64",
      'c.yaml:7:5: spec.kprobes[0].call: "__x64_sys_setns" carries the x86_64 syscall prefix "__x64_", but the target architecture is arm64 (prefix "__arm64_"); write "sys_setns" and nsguard adds the right prefix',
    ],
    [
      "__ia32_sys_setns",
      "x86_64",
      'c.yaml:7:5: spec.kprobes[0].call: "__ia32_sys_setns" carries the i386 syscall prefix "__ia32_", but the target architecture is x86_64 (prefix "__x64_"); write "sys_setns" and nsguard adds the right prefix',
    ],
    [
      "setns",
      "x86_64",
      'c.yaml:7:5: spec.kprobes[0].call: "setns" is not a syscall symbol; with syscall: true write "sys_setns" (nsguard adds the "__x64_" prefix)',
    ],
    [
      "SyS_setns",
      "x86_64",
      'c.yaml:7:5: spec.kprobes[0].call: "SyS_setns" is not a valid syscall symbol; expected a name like "sys_setns"',
    ],
    [
      "sys_setnss",
      "x86_64",
      'c.yaml:7:5: spec.kprobes[0].call: "sys_setnss": x86_64 has no syscall named setnss',
    ],
    [
      "__x64_sys_socketcall",
      "x86_64",
      'c.yaml:7:5: spec.kprobes[0].call: "__x64_sys_socketcall": x86_64 has no syscall named socketcall',
    ],
  ] as const)("refuses %s on %s", (call, arch, message) => {
    expect(compileError(policyWithSpec("kprobes:", `- call: ${call}`), { arch }).message).toBe(message);
  });

  it("compiles syscall: false to a kprobe on the symbol as written", () => {
    const hooks = compileText(
      policyWithSpec(
        "kprobes:",
        "- call: fd_install",
        "  syscall: false",
        "  args: [{index: 0, type: int}, {index: 1, type: fd}]",
      ),
    ).hooks;
    expect(hooks).toStrictEqual([
      {
        index: 0,
        specPath: "spec.kprobes[0]",
        call: "fd_install",
        functionName: "fd_install",
        attach: { kind: "kprobe", symbol: "fd_install" },
        args: [
          { index: 0, kind: "int_arg" },
          { index: 1, kind: "file_arg", stringSlot: 0 },
        ],
        tags: [],
        table: {
          enabled: true,
          fdArg: 1,
          strings: [{ kind: "fd-path", index: 1, sizeArg: -1 }],
          selectors: [],
        },
      },
    ]);
  });

  it("refuses a kprobe symbol that is not a symbol name", () => {
    expect(compileError(policyWithSpec("kprobes:", "- call: 'fd install'", "  syscall: false")).message).toBe(
      'c.yaml:7:5: spec.kprobes[0].call: "fd install" is not a kernel symbol name',
    );
  });
});

describe("compileTracingPolicy: list: calls", () => {
  const listPolicy = (...lines: string[]) =>
    policyWithSpec(
      "lists:",
      "- name: escapes",
      "  type: syscalls",
      "  values: [sys_setns, __x64_sys_unshare, sys_clone3]",
      "kprobes:",
      "- call: list:escapes",
      "  message: namespace change",
      "  args: [{index: 1, type: int, label: flags}]",
      "  selectors: [{matchActions: [{action: Sigkill}]}]",
      ...lines,
    );

  it("expands a syscalls list into one hook per value, numbering on across entries", () => {
    const compiled = compileText(listPolicy("- call: sys_mount"));
    expect(
      compiled.hooks.map((h) => [h.index, h.specPath, h.call, h.functionName, h.syscall, h.attach]),
    ).toStrictEqual([
      [
        0,
        "spec.kprobes[0]",
        "sys_setns",
        "__x64_sys_setns",
        "setns",
        { kind: "syscall-tracepoint", category: "syscalls", enter: "sys_enter_setns" },
      ],
      [
        1,
        "spec.kprobes[0]",
        "__x64_sys_unshare",
        "__x64_sys_unshare",
        "unshare",
        { kind: "syscall-tracepoint", category: "syscalls", enter: "sys_enter_unshare" },
      ],
      [
        2,
        "spec.kprobes[0]",
        "sys_clone3",
        "__x64_sys_clone3",
        "clone3",
        { kind: "syscall-tracepoint", category: "syscalls", enter: "sys_enter_clone3" },
      ],
      [
        3,
        "spec.kprobes[1]",
        "sys_mount",
        "__x64_sys_mount",
        "mount",
        { kind: "syscall-tracepoint", category: "syscalls", enter: "sys_enter_mount" },
      ],
    ]);
    for (const hook of compiled.hooks.slice(0, 3)) {
      expect(hook.message).toBe("namespace change");
      expect(hook.args).toStrictEqual([{ index: 1, kind: "int_arg", label: "flags" }]);
      expect(hook.table.selectors).toStrictEqual([{ action: 3 }]);
      // Namespace calls resolve their change (setns: its descriptor) from the call itself.
      expect(hook.table.fdArg).toBe(-1);
      expect(hook.table.nsCall).toBe(hook.syscall);
    }
    // Expanded hooks share nothing mutable.
    expect(compiled.hooks[0]?.table.selectors).not.toBe(compiled.hooks[1]?.table.selectors);
    expect(compiled.hooks[0]?.args).not.toBe(compiled.hooks[1]?.args);
  });

  it.each([
    [
      "an undefined list",
      policyWithSpec("kprobes:", "- call: list:nope"),
      'c.yaml:7:5: spec.kprobes[0].call: list "nope" is not defined in spec.lists',
    ],
    [
      "a generated list",
      policyWithSpec(
        "lists: [{name: g, type: generated_syscalls, pattern: '^sys_set'}]",
        "kprobes:",
        "- call: list:g",
      ),
      "c.yaml:6:21: spec.lists[0].type: list type generated_syscalls as a kprobe call is not supported by nsguard yet (only type syscalls)",
    ],
    [
      "an untyped list",
      policyWithSpec("lists: [{name: u, values: [fd_install]}]", "kprobes:", "- call: list:u"),
      "c.yaml:6:11: spec.lists[0].type: a list without type as a kprobe call is not supported by nsguard yet (only type syscalls)",
    ],
    [
      "an empty list",
      policyWithSpec("lists: [{name: e, type: syscalls}]", "kprobes:", "- call: list:e"),
      'c.yaml:6:11: spec.lists[0].values: list "e" has no values, so the hook would attach nowhere',
    ],
    [
      "a list value for another architecture",
      policyWithSpec(
        "lists: [{name: x, type: syscalls, values: [sys_setns, __arm64_sys_unshare]}]",
        "kprobes:",
        "- call: list:x",
      ),
      'c.yaml:6:57: spec.lists[0].values[1]: "__arm64_sys_unshare" carries the arm64 syscall prefix "__arm64_", but the target architecture is x86_64 (prefix "__x64_"); write "sys_unshare" and nsguard adds the right prefix',
    ],
  ])("refuses %s", (_name, text, message) => {
    expect(compileError(text).message).toBe(message);
  });
});

describe("compileTracingPolicy: arguments", () => {
  it.each([
    ["int", "int_arg"],
    ["int32", "int_arg"],
    ["sint32", "int_arg"],
    ["int16", "int_arg"],
    ["sint16", "int_arg"],
    ["int8", "int_arg"],
    ["sint8", "int_arg"],
    ["uint32", "uint_arg"],
    ["uint16", "uint_arg"],
    ["uint8", "uint_arg"],
    ["long", "long_arg"],
    ["int64", "long_arg"],
    ["sint64", "long_arg"],
    ["auto", "long_arg"],
    ["uint64", "size_arg"],
    ["ulong", "size_arg"],
    ["size_t", "size_arg"],
  ])("type %s is reported as %s", (type, kind) => {
    const hook = compileText(
      policyWithSpec("kprobes:", "- call: sys_read", `  args: [{index: 2, type: ${type}}]`),
    ).hooks[0];
    expect(hook?.args).toStrictEqual([{ index: 2, kind }]);
    expect(hook?.table.fdArg).toBe(-1);
    expect(hook?.table.strings).toStrictEqual([]);
  });

  it.each([
    ["string", "string_arg", "user", -1],
    ["filename", "string_arg", "user", -1],
    ["fd", "file_arg", "fd-path", 2],
    ["file", "file_arg", "fd-path", 2],
  ] as const)("type %s is reported as %s, read by the kernel as %s", (type, kind, read, fdArg) => {
    const hook = compileText(
      policyWithSpec("kprobes:", "- call: sys_openat", `  args: [{index: 2, type: ${type}}]`),
    ).hooks[0];
    expect(hook?.args).toStrictEqual([{ index: 2, kind, stringSlot: 0 }]);
    expect(hook?.table.strings).toStrictEqual([{ kind: read, index: 2, sizeArg: -1 }]);
    expect(hook?.table.fdArg).toBe(fdArg);
  });

  it("reads a char_buf's length from the argument sizeArgIndex names, 1-based", () => {
    const hook = compileText(
      policyWithSpec(
        "kprobes:",
        "- call: sys_write",
        "  args: [{index: 1, type: char_buf, sizeArgIndex: 3, label: buf}, {index: 2, type: size_t}]",
      ),
    ).hooks[0];
    expect(hook?.args).toStrictEqual([
      { index: 1, kind: "bytes_arg", label: "buf", stringSlot: 0 },
      { index: 2, kind: "size_arg" },
    ]);
    expect(hook?.table.strings).toStrictEqual([{ kind: "char-buf", index: 1, sizeArg: 2 }]);
    expect(hook?.table.fdArg).toBe(-1);
  });

  it("gives string arguments slots in the order of args, nop ones left out", () => {
    const hook = compileText(
      policyWithSpec(
        "kprobes:",
        "- call: sys_renameat2",
        "  args:",
        "  - {index: 3, type: string, label: new}",
        "  - {index: 0, type: nop}",
        "  - {index: 4, type: uint32}",
        "  - {index: 1, type: filename, label: old}",
      ),
    ).hooks[0];
    expect(hook?.args).toStrictEqual([
      { index: 3, kind: "string_arg", label: "new", stringSlot: 0 },
      { index: 4, kind: "uint_arg" },
      { index: 1, kind: "string_arg", label: "old", stringSlot: 1 },
    ]);
    expect(hook?.table.strings).toStrictEqual([
      { kind: "user", index: 3, sizeArg: -1 },
      { kind: "user", index: 1, sizeArg: -1 },
    ]);
  });

  it("skips nop arguments, keeps labels and order, and points fdArg at the first fd", () => {
    const hook = compileText(
      policyWithSpec(
        "kprobes:",
        "- call: sys_dup3",
        "  args:",
        "  - {index: 2, type: int, label: flags}",
        "  - {index: 0, type: nop}",
        "  - {index: 1, type: fd, label: newfd}",
        "  - {index: 0, type: fd}",
      ),
    ).hooks[0];
    expect(hook?.args).toStrictEqual([
      { index: 2, kind: "int_arg", label: "flags" },
      { index: 1, kind: "file_arg", label: "newfd", stringSlot: 0 },
      { index: 0, kind: "file_arg", stringSlot: 1 },
    ]);
    expect(hook?.table.fdArg).toBe(1);
    expect(hook?.table.strings).toStrictEqual([
      { kind: "fd-path", index: 1, sizeArg: -1 },
      { kind: "fd-path", index: 0, sizeArg: -1 },
    ]);
  });

  it("marks the namespace calls, whose change the kernel resolves even when no argument is typed fd", () => {
    for (const call of ["sys_setns", "sys_unshare", "sys_clone", "sys_clone3"]) {
      const { table } =
        compileText(policyWithSpec("kprobes:", `- call: ${call}`, "  syscall: true")).hooks[0] ?? {};
      expect([table?.fdArg, table?.nsCall]).toEqual([-1, call.slice(4)]);
    }
    expect(
      compileText(policyWithSpec("kprobes:", "- call: sys_mount", "  syscall: true")).hooks[0]?.table.nsCall,
    ).toBeUndefined();
  });

  it.each([
    [
      "sock",
      'c.yaml:10:7: spec.kprobes[0].args[0].type: argument type "sock" is not supported by nsguard yet',
    ],
    [
      "path",
      'c.yaml:10:7: spec.kprobes[0].args[0].type: argument type "path" is not supported by nsguard yet',
    ],
  ])("refuses type %s", (type, message) => {
    expect(compileError(setnsWith("args:", "- index: 0", `  type: ${type}`)).message).toBe(message);
  });

  it("refuses a third string, file or buffer argument: the record holds two", () => {
    expect(
      compileError(
        setnsWith("args: [{index: 0, type: string}, {index: 1, type: fd}, {index: 2, type: file}]"),
      ).message,
    ).toBe(
      "c.yaml:8:71: spec.kprobes[0].args[2].type: a hook reads at most 2 string, file or buffer arguments in nsguard",
    );
  });

  it.each([
    [
      "an index past the sixth argument",
      ["- index: 6", "  type: int"],
      "c.yaml:9:7: spec.kprobes[0].args[0].index: argument index 6 is out of range: a syscall has at most 6 arguments (0..5)",
    ],
    [
      "resolve",
      ["- index: 0", "  type: int", "  resolve: f_path"],
      "c.yaml:11:7: spec.kprobes[0].args[0].resolve: not supported by nsguard yet",
    ],
    [
      "sizeArgIndex on an integer",
      ["- index: 0", "  type: int", "  sizeArgIndex: 2"],
      "c.yaml:11:7: spec.kprobes[0].args[0].sizeArgIndex: is only used by char_buf arguments",
    ],
    [
      "sizeArgIndex on a string",
      ["- index: 0", "  type: string", "  sizeArgIndex: 2"],
      "c.yaml:11:7: spec.kprobes[0].args[0].sizeArgIndex: is only used by char_buf arguments",
    ],
    [
      "a char_buf without sizeArgIndex",
      ["- index: 0", "  type: char_buf"],
      "c.yaml:9:7: spec.kprobes[0].args[0].sizeArgIndex: a char_buf argument needs sizeArgIndex (1-based: the argument holding its length is index + 1)",
    ],
    [
      "a char_buf sizeArgIndex past the sixth argument",
      ["- index: 0", "  type: char_buf", "  sizeArgIndex: 7"],
      "c.yaml:11:7: spec.kprobes[0].args[0].sizeArgIndex: 7 names argument 6, but a syscall has arguments 0..5 (sizeArgIndex is 1-based)",
    ],
    [
      "returnCopy",
      ["- index: 0", "  type: int", "  returnCopy: true"],
      "c.yaml:11:7: spec.kprobes[0].args[0].returnCopy: not supported by nsguard yet",
    ],
    [
      "maxData",
      ["- index: 0", "  type: int", "  maxData: true"],
      "c.yaml:11:7: spec.kprobes[0].args[0].maxData: not supported by nsguard yet",
    ],
    [
      "btfType",
      ["- index: 0", "  type: int", "  btfType: ns_common"],
      "c.yaml:11:7: spec.kprobes[0].args[0].btfType: not supported by nsguard yet",
    ],
  ])("refuses %s", (_name, argLines, message) => {
    expect(compileError(setnsWith("args:", ...argLines)).message).toBe(message);
  });
});

describe("compileTracingPolicy: selectors and actions", () => {
  const withSelectors = (...lines: string[]) => setnsWith("selectors:", ...lines);
  const tables = (text: string, options?: CompileOptions) =>
    compileText(text, options).hooks[0]?.table.selectors;

  it.each([
    ["an empty selector posts", ["- {}"], [{ action: 1 }]],
    [
      "no matchActions posts",
      ["- matchPIDs: [{operator: In, values: [7]}]"],
      [{ action: 1, pids: { op: "In", isNamespacePid: false, followForks: false, values: [7] } }],
    ],
    ["Post", ["- matchActions: [{action: Post}]"], [{ action: 1 }]],
    ["NoPost", ["- matchActions: [{action: NoPost}]"], [{ action: 9 }]],
    ["Sigkill", ["- matchActions: [{action: Sigkill}]"], [{ action: 3 }]],
    [
      "Sigkill with Post is a posted kill",
      ["- matchActions: [{action: Post}, {action: sigkill}]"],
      [{ action: 3 }],
    ],
    [
      "Post with default-valued options",
      ["- matchActions: [{action: Post, kernelStackTrace: false}]"],
      [{ action: 1 }],
    ],
    [
      "several selectors keep their order and labels",
      [
        "- {label: init, matchPIDs: [{operator: In, values: [1], isNamespacePID: true}], matchActions: [{action: NoPost}]}",
        "- matchActions: [{action: Sigkill}]",
      ],
      [
        {
          action: 9,
          pids: { op: "In", isNamespacePid: true, followForks: false, values: [1] },
          label: "init",
        },
        { action: 3 },
      ],
    ],
  ])("%s", (_name, lines, expected) => {
    expect(tables(withSelectors(...lines))).toStrictEqual(expected);
  });

  it.each([
    "macros",
    "matchData",
    "matchParentBinaries",
    "matchCEL",
    "matchCmdArgs",
    "matchStates",
    "matchUserCallers",
    "matchWorkloads",
  ])("refuses %s at its path", (filter) => {
    const values: Record<string, string> = {
      macros: "[m]",
      matchData: "[{index: 0, operator: Equal, values: ['0']}]",
      matchParentBinaries: "[{operator: In, values: [/bin/bash]}]",
      matchCEL: "{expr: 'arg1 == 0'}",
      matchCmdArgs: "[{index: 0, operator: Equal, values: [-t]}]",
      matchStates: "[{name: s, operator: Equal, value: x}]",
      matchUserCallers: "[{depth: '1'}]",
      matchWorkloads: "{podSelector: {matchLabels: {app: x}}}",
    };
    const text = policyWithSpec(
      "selectorsMacros: {m: {}}",
      "state: [{name: s}]",
      "kprobes:",
      "- call: sys_setns",
      "  selectors:",
      "  - matchActions: [{action: Post}]",
      `    ${filter}: ${values[filter]}`,
    );
    // The parser needs the macro and the state defined; the compiler would refuse those spec-level
    // sections before reaching the selector, so they are dropped from the parsed policy (its
    // remembered positions stay valid).
    const policy = parseTracingPolicy(text, "c.yaml");
    delete policy.spec.selectorsMacros;
    delete policy.spec.state;
    let error: unknown;
    try {
      compileTracingPolicy(policy, X86);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PolicyError);
    expect((error as PolicyError).message).toBe(
      `c.yaml:12:7: spec.kprobes[0].selectors[0].${filter}: not supported by nsguard yet`,
    );
  });

  it.each([
    [
      "Override",
      "{action: Override, argError: -1}",
      "c.yaml:9:23: spec.kprobes[0].selectors[0].matchActions[0].action: Override cannot work on this kernel class: it has no kprobes, no CONFIG_BPF_KPROBE_OVERRIDE and no BPF LSM, so a syscall cannot be blocked; use Sigkill to kill the caller (the syscall itself still completes)",
    ],
    [
      "GetUrl",
      "{action: GetUrl, argUrl: 'http://x'}",
      "c.yaml:9:23: spec.kprobes[0].selectors[0].matchActions[0].action: action GetUrl is not supported by nsguard yet",
    ],
    [
      "DnsLookup",
      "{action: DnsLookup, argFqdn: x.example}",
      "c.yaml:9:23: spec.kprobes[0].selectors[0].matchActions[0].action: action DnsLookup is not supported by nsguard yet",
    ],
    [
      "NotifyEnforcer",
      "{action: NotifyEnforcer}",
      "c.yaml:9:23: spec.kprobes[0].selectors[0].matchActions[0].action: action NotifyEnforcer is not supported by nsguard yet",
    ],
    [
      "kernelStackTrace",
      "{action: Post, kernelStackTrace: true}",
      "c.yaml:9:37: spec.kprobes[0].selectors[0].matchActions[0].kernelStackTrace: kernelStackTrace needs a kprobe or LSM hook; nsguard hooks syscalls through tracepoints, which cannot provide it",
    ],
    [
      "userStackTrace",
      "{action: Post, userStackTrace: true}",
      "c.yaml:9:37: spec.kprobes[0].selectors[0].matchActions[0].userStackTrace: userStackTrace needs a kprobe or LSM hook; nsguard hooks syscalls through tracepoints, which cannot provide it",
    ],
    [
      "imaHash",
      "{action: Post, imaHash: true}",
      "c.yaml:9:37: spec.kprobes[0].selectors[0].matchActions[0].imaHash: imaHash needs a kprobe or LSM hook; nsguard hooks syscalls through tracepoints, which cannot provide it",
    ],
    [
      "argSig on Sigkill",
      "{action: Sigkill, argSig: 15}",
      "c.yaml:9:40: spec.kprobes[0].selectors[0].matchActions[0].argSig: argSig is not used by the Sigkill action",
    ],
    [
      "argError on Post",
      "{action: Post, argError: -1}",
      "c.yaml:9:37: spec.kprobes[0].selectors[0].matchActions[0].argError: argError is not used by the Post action",
    ],
  ])("refuses %s", (_name, action, message) => {
    expect(compileError(withSelectors(`- matchActions: [${action}]`)).message).toBe(message);
  });

  it.each([
    [
      "Post with NoPost",
      "[{action: Post}, {action: NoPost}]",
      "c.yaml:9:7: spec.kprobes[0].selectors[0].matchActions: Post and NoPost contradict each other in one selector",
    ],
    [
      "Sigkill with NoPost",
      "[{action: NoPost}, {action: Sigkill}]",
      "c.yaml:9:7: spec.kprobes[0].selectors[0].matchActions: Sigkill together with NoPost is not supported by nsguard (every signal sent is posted)",
    ],
    [
      "Signal with NoPost",
      "[{action: NoPost}, {action: Signal, argSig: 10}]",
      "c.yaml:9:7: spec.kprobes[0].selectors[0].matchActions: Signal together with NoPost is not supported by nsguard (every signal sent is posted)",
    ],
    [
      "Sigkill with Signal",
      "[{action: Sigkill}, {action: Signal, argSig: 10}]",
      "c.yaml:9:7: spec.kprobes[0].selectors[0].matchActions: Sigkill and Signal in one selector: the kernel sends one signal per call",
    ],
    [
      "rateLimit with Sigkill",
      "[{action: Post, rateLimit: 1m}, {action: Sigkill}]",
      "c.yaml:9:7: spec.kprobes[0].selectors[0].matchActions: rateLimit with Sigkill or Signal is not supported by nsguard: every enforcement is posted",
    ],
    [
      "rateLimit with Signal",
      "[{action: Signal, argSig: 1}, {action: Post, rateLimit: 1m}]",
      "c.yaml:9:7: spec.kprobes[0].selectors[0].matchActions: rateLimit with Sigkill or Signal is not supported by nsguard: every enforcement is posted",
    ],
  ])("refuses %s", (_name, actions, message) => {
    expect(compileError(withSelectors(`- matchActions: ${actions}`)).message).toBe(message);
  });

  it("refuses a second matchPIDs entry", () => {
    expect(
      compileError(
        withSelectors(
          "- matchPIDs:",
          "  - {operator: NotIn, values: [1]}",
          "  - {operator: NotIn, values: [0]}",
        ),
      ).message,
    ).toBe(
      "c.yaml:11:9: spec.kprobes[0].selectors[0].matchPIDs[1]: more than one matchPIDs entry per selector is not supported by nsguard yet",
    );
  });

  it("re-checks the kernel table limits on policies built in code", () => {
    const tooManySelectors = structuredClone(DENY_NAMESPACE_ACCESS_POLICY);
    const kprobe = tooManySelectors.spec.kprobes?.[0];
    if (kprobe === undefined) throw new Error("fixture");
    kprobe.selectors = Array.from({ length: 6 }, () => ({}));
    expect(() => compileTracingPolicy(tooManySelectors, X86)).toThrow(
      new PolicyError("has 6 selectors, at most 5 allowed", { path: "spec.kprobes[0].selectors" }),
    );

    const tooManyPids = structuredClone(DENY_NAMESPACE_ACCESS_POLICY);
    const pids = tooManyPids.spec.kprobes?.[0]?.selectors?.[0]?.matchPIDs?.[0];
    if (pids === undefined) throw new Error("fixture");
    pids.values = [1, 2, 3, 4, 5];
    const error = (() => {
      try {
        compileTracingPolicy(tooManyPids, X86);
      } catch (e) {
        return e as PolicyError;
      }
      throw new Error("expected a PolicyError");
    })();
    // Built in code, so there is no file position to report.
    expect(error.message).toBe(
      "spec.kprobes[0].selectors[0].matchPIDs[0].values: has 5 PIDs, at most 4 allowed in one matchPIDs entry",
    );
    expect(error.line).toBeUndefined();
  });
});

describe("compileTracingPolicy: policy mode", () => {
  const deny = readFileSync(DENY_NAMESPACE_ACCESS_FILE, "utf8");
  const denyWithOptions = (...options: string[]) =>
    deny.replace("spec:\n", `spec:\n  options:\n${options.map((o) => `  - ${o}\n`).join("")}`);

  it("monitor mode turns Sigkill into a post and says so", () => {
    const compiled = compileText(denyWithOptions("{name: policy-mode, value: monitor}"));
    expect(compiled.mode).toBe("monitor");
    expect(compiled.hooks[0]?.table.selectors).toStrictEqual([
      {
        action: 1,
        monitorOnly: true,
        pids: { op: "NotIn", isNamespacePid: true, followForks: true, values: [0, 1] },
      },
    ]);
  });

  it("monitor mode leaves Post and NoPost alone", () => {
    const text = policyWithSpec(
      "options: [{name: policy-mode, value: monitor}]",
      "kprobes:",
      "- call: sys_setns",
      "  selectors: [{matchActions: [{action: NoPost}]}, {matchActions: [{action: Post}]}]",
    );
    expect(compileText(text).hooks[0]?.table.selectors).toStrictEqual([{ action: 9 }, { action: 1 }]);
  });

  it("an explicit enforce option is the default", () => {
    expect(compileText(denyWithOptions("{name: policy-mode, value: enforce}"))).toStrictEqual(
      compiledDenyNamespaceAccess(),
    );
  });

  it("the mode option of the compiler overrides the policy, both ways", () => {
    const monitored = compileText(deny, { arch: "x86_64", mode: "monitor" });
    expect(monitored.mode).toBe("monitor");
    expect(monitored.hooks[0]?.table.selectors[0]?.action).toBe(1);
    const enforced = compileText(denyWithOptions("{name: policy-mode, value: monitor}"), {
      arch: "x86_64",
      mode: "enforce",
    });
    expect(enforced).toStrictEqual(compiledDenyNamespaceAccess());
  });

  it("accepts the kprobe_multi switches, which change nothing for nsguard", () => {
    const text = denyWithOptions(
      "{name: disable-kprobe-multi, value: 'true'}",
      "{name: disable-uprobe-multi, value: '0'}",
    );
    expect(compileText(text)).toStrictEqual(compiledDenyNamespaceAccess());
  });

  it.each([
    [
      ["{name: policy-mode, value: Monitor}"],
      'c.yaml:7:25: spec.options[0].value: invalid policy-mode "Monitor"; expected enforce or monitor',
    ],
    [
      ["{name: policy-mode}"],
      'c.yaml:7:5: spec.options[0].value: invalid policy-mode ""; expected enforce or monitor',
    ],
    [
      ["{name: policymode, value: monitor}"],
      'c.yaml:7:6: spec.options[0].name: unknown option "policymode"; expected one of policy-mode, disable-kprobe-multi, disable-uprobe-multi',
    ],
    [
      ["{name: disable-kprobe-multi, value: maybe}"],
      'c.yaml:7:34: spec.options[0].value: invalid disable-kprobe-multi value "maybe"; expected true or false',
    ],
    [
      ["{name: policy-mode, value: monitor}", "{name: policy-mode, value: enforce}"],
      'c.yaml:8:6: spec.options[1].name: option "policy-mode" is set more than once',
    ],
  ])("refuses options %j", (options, message) => {
    expect(compileError(denyWithOptions(...options)).message).toBe(message);
  });
});

describe("compileTracingPolicy: the rest of the spec", () => {
  it.each([
    ["tracepoints", "tracepoints: [{subsystem: syscalls, event: sys_enter_setns}]"],
    ["lsmhooks", "lsmhooks: [{hook: file_open}]"],
    ["uprobes", "uprobes: [{path: /bin/sh, symbols: [main]}]"],
    ["usdts", "usdts: [{path: /bin/node, provider: node, name: gc}]"],
    ["fentries", "fentries: [{call: sys_setns}]"],
    ["enforcers", "enforcers: [{calls: [sys_setns]}]"],
    ["state", "state: [{name: seen}]"],
    ["selectorsMacros", "selectorsMacros: {m: {}}"],
    ["loader", "loader: true"],
    ["nodeSelector", "nodeSelector: {matchLabels: {kubernetes.io/arch: amd64}}"],
  ])("refuses %s", (section, line) => {
    const text = policyWithSpec(line, "kprobes:", "- call: sys_setns");
    expect(compileError(text).message).toBe(`c.yaml:6:3: spec.${section}: not supported by nsguard yet`);
  });

  it.each([
    ["an empty hostSelector", "hostSelector: {}"],
    ["an empty nodeSelector", "nodeSelector: {}"],
    ["empty sections", "tracepoints: []"],
    ["loader off", "loader: false"],
    ["an unused list", "lists: [{name: spare, type: generated_ftrace, pattern: x}]"],
  ])("accepts %s, which changes nothing", (_name, line) => {
    const compiled = compileText(
      policyWithSpec(
        line,
        "kprobes:",
        "- call: sys_setns",
        "  args: [{index: 0, type: int}, {index: 1, type: int}]",
      ),
    );
    expect(compiled).toStrictEqual({ ...compiledNamespaceAccess(), name: "test" });
  });

  it.each([
    [
      "returnArg without return: true",
      ["returnArg: {index: 0, type: int}"],
      "c.yaml:8:5: spec.kprobes[0].returnArg: is only used with return: true",
    ],
    [
      "returnArgAction",
      ["returnArgAction: TrackSock"],
      "c.yaml:8:5: spec.kprobes[0].returnArgAction: not supported by nsguard yet",
    ],
    [
      "data",
      ["data: [{index: 0, type: int}]"],
      "c.yaml:8:5: spec.kprobes[0].data: not supported by nsguard yet",
    ],
    [
      "ignore.callNotFound",
      ["ignore: {callNotFound: true}"],
      "c.yaml:8:14: spec.kprobes[0].ignore.callNotFound: not supported by nsguard yet",
    ],
  ])("refuses kprobe field %s", (_name, lines, message) => {
    expect(compileError(setnsWith(...lines)).message).toBe(message);
  });

  it("refuses a policy without kprobes", () => {
    expect(compileError(policyWithSpec("kprobes: []")).message).toBe(
      "c.yaml:6:3: spec.kprobes: the policy defines no kprobes, so there is nothing to load",
    );
    expect(compileError(policyWithSpec("options: []")).message).toBe(
      "c.yaml:5:1: spec.kprobes: the policy defines no kprobes, so there is nothing to load",
    );
  });

  it("passes message and tags through, escaped as Tetragon emits them", () => {
    const hook = compileText(
      setnsWith('message: "setns by \\"nsenter\\"\\n"', "tags: [escape, 'T1611 ✓', \"tab\\there\"]"),
    ).hooks[0];
    expect(hook?.message).toBe('setns by \\"nsenter\\"\\n');
    expect(hook?.tags).toStrictEqual(["escape", "T1611 ✓", "tab\\there"]);
  });

  it("carries the namespace of a TracingPolicyNamespaced, which scopes it to that namespace's pods", () => {
    const text = readFileSync(NAMESPACE_ACCESS_FILE, "utf8")
      .replace("kind: TracingPolicy", "kind: TracingPolicyNamespaced")
      .replace('  name: "namespace-access"', '  name: "namespace-access"\n  namespace: default');
    expect(compileText(text)).toStrictEqual({
      ...compiledNamespaceAccess(),
      kind: "TracingPolicyNamespaced",
      namespace: "default",
      scope: { namespace: "default", includeHost: false },
    });
  });

  it("refuses an architecture it does not know", () => {
    const policy = parseTracingPolicy(readFileSync(NAMESPACE_ACCESS_FILE, "utf8"));
    expect(() => compileTracingPolicy(policy, { arch: "riscv64" as "arm64" })).toThrow(
      'unsupported architecture "riscv64"; expected one of x86_64, arm64',
    );
  });

  it("defaults to the host architecture", () => {
    const policy = parseTracingPolicy(readFileSync(NAMESPACE_ACCESS_FILE, "utf8"));
    const expected = process.arch === "arm64" ? "__arm64_sys_setns" : "__x64_sys_setns";
    expect(compileTracingPolicy(policy).hooks[0]?.functionName).toBe(expected);
  });
});

describe("compileTracingPolicy: matchArgs on integer arguments", () => {
  /** One hook on `call` with `args` and one selector holding `matchArgs`. */
  function withMatchArgs(call: string, args: string, matchArgs: string): string {
    return policyWithSpec(
      "kprobes:",
      `- call: ${call}`,
      "  syscall: true",
      `  args: ${args}`,
      "  selectors:",
      `  - matchArgs: ${matchArgs}`,
    );
  }
  const argTables = (text: string) => compileText(text).hooks.map((h) => h.table.selectors[0]?.args);

  it("compiles the namespace-creating mask of unshare's flags, width and sign from the declared type", () => {
    const text = withMatchArgs(
      "sys_unshare",
      "[{index: 0, type: int, label: flags}]",
      "[{index: 0, operator: Mask, values: ['0x7E020080']}]",
    );
    expect(argTables(text)).toStrictEqual([
      [{ type: "int", op: "Mask", index: 0, values: [0x7e020080n], width32: true, signed: true }],
    ]);
    expect(compileText(text).hooks[0]?.table.nsCall).toBe("unshare");
  });

  it.each([
    ["int", "['-1']", [0xffffffffffffffffn], true, true],
    ["int", "['0xffffffff']", [0xffffffffffffffffn], true, true], // the pattern of -1
    ["uint32", "['0xffffffff', '010', '0b11', '0o17']", [0xffffffffn, 8n, 3n, 15n], true, false],
    ["uint64", "['18446744073709551615']", [0xffffffffffffffffn], false, false],
    ["long", "['-9223372036854775808']", [0x8000000000000000n], false, true],
    ["size_t", "[' 42 ']", [42n], false, false],
  ])("%s values %s", (type, values, expected, width32, signed) => {
    const text = withMatchArgs(
      "sys_clone",
      `[{index: 0, type: ${type}}]`,
      `[{index: 0, operator: Equal, values: ${values}}]`,
    );
    expect(argTables(text)).toStrictEqual([
      [{ type: "int", op: "Equal", index: 0, values: expected, width32, signed }],
    ]);
  });

  it("ANDs several entries and keeps them per selector", () => {
    const text = withMatchArgs(
      "sys_setns",
      "[{index: 0, type: int}, {index: 1, type: int}]",
      "[{index: 1, operator: NotEqual, values: ['0']}, {index: 0, operator: GT, values: ['2']}]",
    );
    expect(argTables(text)).toStrictEqual([
      [
        { type: "int", op: "NotEqual", index: 1, values: [0n], width32: true, signed: true },
        { type: "int", op: "GT", index: 0, values: [2n], width32: true, signed: true },
      ],
    ]);
  });

  it.each([
    [
      "[{index: 0, type: int}]",
      "[{index: 1, operator: Equal, values: ['0']}]",
      "c.yaml:11:20: spec.kprobes[0].selectors[0].matchArgs[0].index: the hook's args declare no argument with index 1; matchArgs reads its type from there",
    ],
    [
      "[{index: 0, type: int}]",
      "[{index: 0, operator: Prefix, values: ['0']}]",
      "c.yaml:11:30: spec.kprobes[0].selectors[0].matchArgs[0].operator: operator Prefix on an integer argument is not supported by nsguard (supported: Equal, NotEqual, Mask, GT, LT)",
    ],
    [
      "[{index: 0, type: int}]",
      "[{index: 0, operator: GT, values: ['1', '2']}]",
      "c.yaml:11:44: spec.kprobes[0].selectors[0].matchArgs[0].values: has 2 values; GT takes exactly 1 in nsguard",
    ],
    [
      "[{index: 0, type: int}]",
      "[{index: 0, operator: Equal, values: ['1', '2', '3', '4', '5']}]",
      "c.yaml:11:47: spec.kprobes[0].selectors[0].matchArgs[0].values: has 5 values; Equal takes 1 to 4 in nsguard",
    ],
    [
      "[{index: 0, type: uint32}]",
      "[{index: 0, operator: Equal, values: ['0x100000000']}]",
      "c.yaml:11:56: spec.kprobes[0].selectors[0].matchArgs[0].values[0]: 0x100000000 is out of range for an unsigned 32-bit argument",
    ],
    [
      "[{index: 0, type: int}]",
      "[{index: 0, operator: Equal, values: ['CLONE_NEWNET']}]",
      'c.yaml:11:56: spec.kprobes[0].selectors[0].matchArgs[0].values[0]: "CLONE_NEWNET" is not an integer',
    ],
  ])("refuses %s with %s", (args, matchArgs, message) => {
    expect(compileError(withMatchArgs("sys_unshare", args, matchArgs)).message).toBe(message);
  });
});
