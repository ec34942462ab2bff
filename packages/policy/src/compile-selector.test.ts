// SPDX-License-Identifier: Apache-2.0

import { describe, expect, it } from "vitest";
import { compileTracingPolicy } from "./compile-tracing-policy.js";
import type { HookTable, SelectorTable } from "./compiled-policy-types.js";
import { parseTracingPolicy } from "./parse-tracing-policy.js";
import { PolicyError } from "./policy-error.js";

// The selectors of the kernel policy engine (struct nsguard_selector): each compiles to the exact
// SelectorTable the sensor encodes, or is refused with the field path and a message saying why.

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

/** One hook on `call` (with `args`) whose only selector is `selector`; the selector is file line 10. */
function hookWith(call: string, args: string, selector: string, ...specLines: string[]): string {
  return policyWithSpec(
    ...specLines,
    "kprobes:",
    `- call: ${call}`,
    `  args: ${args}`,
    "  selectors:",
    `  - ${selector}`,
  );
}

/** A setns hook without args whose only selector is `selector` (file line 10). */
const setnsWith = (selector: string, ...specLines: string[]) =>
  hookWith("sys_setns", "[]", selector, ...specLines);

function table(text: string): HookTable {
  const hook = compileTracingPolicy(parseTracingPolicy(text, "c.yaml"), { arch: "x86_64" }).hooks[0];
  if (hook === undefined) throw new Error("no hook");
  return hook.table;
}

const selectors = (text: string): SelectorTable[] => table(text).selectors;

/** The refusal's message, from the parser (limits the CRD states) or the compiler. */
function compileError(text: string): string {
  try {
    compileTracingPolicy(parseTracingPolicy(text, "c.yaml"), { arch: "x86_64" });
  } catch (error) {
    if (error instanceof PolicyError) return error.message;
    throw error;
  }
  throw new Error("expected a PolicyError");
}

const S = "spec.kprobes[0].selectors[0]";
const LONG = (n: number) => "a".repeat(n);

describe("compileSelector: matchBinaries", () => {
  it.each([
    ["In", "Equal"],
    ["NotIn", "NotEqual"],
    ["Prefix", "Prefix"],
    ["NotPrefix", "NotPrefix"],
    ["Postfix", "Postfix"],
    ["NotPostfix", "NotPostfix"],
  ])("%s compiles to the string operator %s", (operator, op) => {
    expect(
      selectors(setnsWith(`matchBinaries: [{operator: ${operator}, values: [/usr/bin/nsenter, /bin/]}]`)),
    ).toStrictEqual([
      { action: 1, binary: { op, values: ["/usr/bin/nsenter", "/bin/"], followChildren: false } },
    ]);
  });

  it("keeps followChildren (In and NotIn only)", () => {
    expect(
      selectors(
        setnsWith("matchBinaries: [{operator: NotIn, values: [/usr/bin/runc], followChildren: true}]"),
      ),
    ).toStrictEqual([
      { action: 1, binary: { op: "NotEqual", values: ["/usr/bin/runc"], followChildren: true } },
    ]);
  });

  it('drops one trailing "\\0" of In values, as Tetragon\'s examples write them', () => {
    expect(
      selectors(setnsWith('matchBinaries: [{operator: In, values: ["/bin/sh\\0", /bin/bash]}]')),
    ).toStrictEqual([
      { action: 1, binary: { op: "Equal", values: ["/bin/sh", "/bin/bash"], followChildren: false } },
    ]);
  });

  it.each([
    [
      "followChildren with Postfix",
      "matchBinaries: [{operator: Postfix, values: [sh], followChildren: true}]",
      `c.yaml:10:73: ${S}.matchBinaries[0].followChildren: followChildren works only with the In and NotIn operators (got Postfix)`,
    ],
    [
      "no values",
      "matchBinaries: [{operator: In, values: []}]",
      `c.yaml:10:38: ${S}.matchBinaries[0].values: has 0 values; 1 to 1024 allowed`,
    ],
    [
      "a NUL inside a value",
      'matchBinaries: [{operator: In, values: ["/bin/\\0sh"]}]',
      `c.yaml:10:47: ${S}.matchBinaries[0].values[0]: a string value cannot contain a NUL byte`,
    ],
    [
      "a trailing NUL on a Prefix value (only Equal compares the NUL)",
      'matchBinaries: [{operator: Prefix, values: ["/bin/\\0"]}]',
      `c.yaml:10:51: ${S}.matchBinaries[0].values[0]: a string value cannot contain a NUL byte`,
    ],
    [
      "a second entry",
      "matchBinaries: [{operator: In, values: [/a]}, {operator: In, values: [/b]}]",
      `c.yaml:10:22: ${S}.matchBinaries: has 2 entries, at most 1 allowed`,
    ],
  ])("refuses %s", (_name, selector, message) => {
    expect(compileError(setnsWith(selector))).toBe(message);
  });
});

describe("compileSelector: string values and their byte limits", () => {
  const openatWith = (matchArgs: string) =>
    hookWith("sys_openat", "[{index: 1, type: string}]", `matchArgs: ${matchArgs}`);

  it.each([
    ["Equal", 247],
    ["NotEqual", 247],
    ["Prefix", 248],
    ["NotPrefix", 248],
    ["Postfix", 248],
    ["NotPostfix", 248],
  ])("%s takes values up to %d bytes", (op, max) => {
    expect(
      selectors(openatWith(`[{index: 1, operator: ${op}, values: ['${LONG(max)}']}]`))[0]?.args,
    ).toStrictEqual([{ type: "string", op, index: 1, stringSlot: 0, values: [LONG(max)] }]);
    expect(compileError(openatWith(`[{index: 1, operator: ${op}, values: ['${LONG(max + 1)}']}]`))).toBe(
      `c.yaml:10:${51 + op.length}: ${S}.matchArgs[0].values[0]: is ${max + 1} bytes; the kernel compares at most ${max} bytes for ${op}`,
    );
  });

  it("counts UTF-8 bytes, not characters", () => {
    // 125 × "é" is 250 bytes.
    expect(compileError(openatWith(`[{index: 1, operator: Prefix, values: ['${"é".repeat(125)}']}]`))).toBe(
      `c.yaml:10:57: ${S}.matchArgs[0].values[0]: is 250 bytes; the kernel compares at most 248 bytes for Prefix`,
    );
  });

  it('an Equal value of 247 bytes plus its "\\0" fits: the NUL is dropped before the count', () => {
    expect(
      selectors(openatWith(`[{index: 1, operator: NotEqual, values: ["${LONG(247)}\\0"]}]`))[0]?.args?.[0]
        ?.values,
    ).toStrictEqual([LONG(247)]);
  });

  it.each([
    [
      "no values",
      "[{index: 1, operator: Equal, values: []}]",
      `c.yaml:10:47: ${S}.matchArgs[0].values: has 0 values; 1 to 1024 allowed`,
    ],
    [
      "an integer operator",
      "[{index: 1, operator: Mask, values: ['1']}]",
      `c.yaml:10:30: ${S}.matchArgs[0].operator: operator Mask on a string argument is not supported by nsguard (supported: Equal, NotEqual, Prefix, NotPrefix, Postfix, NotPostfix)`,
    ],
    [
      "a network operator",
      "[{index: 1, operator: SPort, values: ['1']}]",
      `c.yaml:10:30: ${S}.matchArgs[0].operator: operator SPort on a string argument is not supported by nsguard (supported: Equal, NotEqual, Prefix, NotPrefix, Postfix, NotPostfix)`,
    ],
  ])("refuses %s", (_name, matchArgs, message) => {
    expect(compileError(openatWith(matchArgs))).toBe(message);
  });
});

describe("compileSelector: matchArgs on string, file and buffer arguments", () => {
  it("compares a string argument in the string slot the hook reads it into", () => {
    const t = table(
      hookWith(
        "sys_openat",
        "[{index: 2, type: int}, {index: 1, type: string}]",
        'matchArgs: [{index: 1, operator: Equal, values: ["/etc/shadow\\0", /etc/passwd]}, {index: 2, operator: Mask, values: ["1"]}]',
      ),
    );
    expect(t.strings).toStrictEqual([{ kind: "user", index: 1, sizeArg: -1 }]);
    expect(t.selectors).toStrictEqual([
      {
        action: 1,
        args: [
          { type: "string", op: "Equal", index: 1, stringSlot: 0, values: ["/etc/shadow", "/etc/passwd"] },
          { type: "int", op: "Mask", index: 2, values: [1n], width32: true, signed: true },
        ],
      },
    ]);
  });

  it("compares an fd's path, and a char_buf's bytes in the second slot", () => {
    const t = table(
      hookWith(
        "sys_write",
        "[{index: 0, type: fd}, {index: 1, type: char_buf, sizeArgIndex: 3}]",
        "matchArgs: [{index: 1, operator: Prefix, values: [ELF]}, {index: 0, operator: NotPrefix, values: [/dev/]}]",
      ),
    );
    expect(t.fdArg).toBe(0);
    expect(t.strings).toStrictEqual([
      { kind: "fd-path", index: 0, sizeArg: -1 },
      { kind: "char-buf", index: 1, sizeArg: 2 },
    ]);
    expect(t.selectors[0]?.args).toStrictEqual([
      { type: "string", op: "Prefix", index: 1, stringSlot: 1, values: ["ELF"] },
      { type: "string", op: "NotPrefix", index: 0, stringSlot: 0, values: ["/dev/"] },
    ]);
  });

  it("compares setns's nsfs descriptor by its path (net:[inode])", () => {
    const t = table(
      hookWith(
        "sys_setns",
        "[{index: 0, type: fd}]",
        "matchArgs: [{index: 0, operator: Prefix, values: ['net:']}]",
      ),
    );
    expect([t.nsCall, t.fdArg]).toStrictEqual(["setns", 0]);
    expect(t.selectors[0]?.args).toStrictEqual([
      { type: "string", op: "Prefix", index: 0, stringSlot: 0, values: ["net:"] },
    ]);
  });

  it("refuses an integer operator on a file argument", () => {
    expect(
      compileError(
        hookWith(
          "sys_setns",
          "[{index: 0, type: fd}]",
          "matchArgs: [{index: 0, operator: GT, values: ['3']}]",
        ),
      ),
    ).toBe(
      `c.yaml:10:30: ${S}.matchArgs[0].operator: operator GT on a file argument is not supported by nsguard (supported: Equal, NotEqual, Prefix, NotPrefix, Postfix, NotPostfix)`,
    );
  });
});

describe("compileSelector: matchNamespaces", () => {
  it("compiles each entry's kind, operator, inode numbers and host_ns flag, ANDed in order", () => {
    expect(
      selectors(
        setnsWith(
          "matchNamespaces: [{namespace: Pid, operator: NotIn, values: [host_ns]}, {namespace: net, operator: In, values: ['4026531840', host_ns, '7']}, {namespace: User, operator: In, values: ['4294967295']}]",
        ),
      ),
    ).toStrictEqual([
      {
        action: 1,
        namespaces: [
          { kind: 3, op: "NotIn", values: [], host: true },
          { kind: 5, op: "In", values: [4026531840, 7], host: true },
          { kind: 9, op: "In", values: [4294967295], host: false },
        ],
      },
    ]);
  });

  it.each([
    ["Uts", 0],
    ["Ipc", 1],
    ["Mnt", 2],
    ["Pid", 3],
    ["PidForChildren", 4],
    ["Net", 5],
    ["Time", 6],
    ["TimeForChildren", 7],
    ["Cgroup", 8],
    ["User", 9],
  ])("%s is enum nsguard_ns_index %d", (namespace, kind) => {
    expect(
      selectors(setnsWith(`matchNamespaces: [{namespace: ${namespace}, operator: In, values: ['1']}]`))[0]
        ?.namespaces,
    ).toStrictEqual([{ kind, op: "In", values: [1], host: false }]);
  });

  it("refuses more than 4 values in one entry", () => {
    expect(
      compileError(
        setnsWith("matchNamespaces: [{namespace: Mnt, operator: In, values: [host_ns, '1', '2', '3', '4']}]"),
      ),
    ).toBe(
      `c.yaml:10:64: ${S}.matchNamespaces[0].values: has 5 values, at most 4 allowed in one matchNamespaces entry`,
    );
  });
});

describe("compileSelector: matchNamespaceChanges and matchHostNamespaceEntry", () => {
  it("compiles the kinds as bits 1 << enum nsguard_ns_index", () => {
    expect(
      selectors(setnsWith("matchNamespaceChanges: [{operator: In, values: [Net, mnt, User]}]")),
    ).toStrictEqual([{ action: 1, namespaceChanges: { op: "In", kinds: (1 << 5) | (1 << 2) | (1 << 9) } }]);
    expect(
      selectors(setnsWith("matchHostNamespaceEntry: [{operator: In, values: [Mnt, Net]}]")),
    ).toStrictEqual([{ action: 1, hostNamespaceEntry: { op: "In", kinds: (1 << 2) | (1 << 5) } }]);
    expect(selectors(setnsWith("matchHostNamespaceEntry: [{operator: NotIn, values: [Uts]}]"))).toStrictEqual(
      [{ action: 1, hostNamespaceEntry: { op: "NotIn", kinds: 1 } }],
    );
  });

  it.each([
    [
      "matchNamespaceChanges without kinds",
      "matchNamespaceChanges: [{operator: NotIn, values: []}]",
      `c.yaml:10:49: ${S}.matchNamespaceChanges[0].values: names no namespace`,
    ],
    [
      "matchHostNamespaceEntry without kinds",
      "matchHostNamespaceEntry: [{operator: In, values: []}]",
      `c.yaml:10:48: ${S}.matchHostNamespaceEntry[0].values: names no namespace`,
    ],
    [
      "a second matchNamespaceChanges entry",
      "matchNamespaceChanges: [{operator: In, values: [Net]}, {operator: In, values: [Mnt]}]",
      `c.yaml:10:30: ${S}.matchNamespaceChanges: has 2 entries, at most 1 allowed`,
    ],
  ])("refuses %s", (_name, selector, message) => {
    expect(compileError(setnsWith(selector))).toBe(message);
  });
});

describe("compileSelector: matchCapabilities and matchCapabilityChanges", () => {
  it("compiles the set, operator, namespace flag and a capability bit mask per entry", () => {
    expect(
      selectors(
        setnsWith(
          "matchCapabilities: [{operator: In, values: [CAP_SYS_ADMIN, CAP_CHOWN, cap_dac_override]}, {type: Permitted, operator: NotIn, isNamespaceCapability: true, values: [CAP_CHECKPOINT_RESTORE]}]",
        ),
      ),
    ).toStrictEqual([
      {
        action: 1,
        capabilities: [
          // Effective is the default set; CAP_DAC_OVERRIDE is capability 1.
          { set: 0, op: "In", isNamespaceCapability: false, mask: (1n << 21n) | 1n | (1n << 1n) },
          { set: 2, op: "NotIn", isNamespaceCapability: true, mask: 1n << 40n },
        ],
      },
    ]);
    expect(
      selectors(
        setnsWith("matchCapabilityChanges: [{type: Inheritable, operator: In, values: [CAP_NET_ADMIN]}]"),
      ),
    ).toStrictEqual([
      { action: 1, capabilityChanges: [{ set: 1, op: "In", isNamespaceCapability: false, mask: 1n << 12n }] },
    ]);
  });

  it.each([
    [
      "five entries",
      `matchCapabilities: [${Array(5).fill("{operator: In, values: [CAP_CHOWN]}").join(", ")}]`,
      `c.yaml:10:7: ${S}.matchCapabilities: has 5 entries, at most 4 allowed in nsguard`,
    ],
    [
      "an entry without capabilities",
      "matchCapabilityChanges: [{operator: In, values: []}]",
      `c.yaml:10:47: ${S}.matchCapabilityChanges[0].values: names no capability`,
    ],
  ])("refuses %s", (_name, selector, message) => {
    expect(compileError(setnsWith(selector))).toBe(message);
  });
});

describe("compileSelector: Signal", () => {
  it.each([1, 10, 64])("sends signal %d, posted", (sig) => {
    expect(selectors(setnsWith(`matchActions: [{action: Signal, argSig: ${sig}}]`))).toStrictEqual([
      { action: 10, signal: sig },
    ]);
  });

  it("with Post is the same posted signal", () => {
    expect(
      selectors(setnsWith("matchActions: [{action: Post}, {action: signal, argSig: 15}]")),
    ).toStrictEqual([{ action: 10, signal: 15 }]);
  });

  it("monitor mode turns it into a Post that says so, without the signal", () => {
    expect(
      selectors(
        setnsWith(
          "matchActions: [{action: Signal, argSig: 10}]",
          "options: [{name: policy-mode, value: monitor}]",
        ),
      ),
    ).toStrictEqual([{ action: 1, monitorOnly: true }]);
  });

  it.each([
    [
      "{action: Signal}",
      `c.yaml:10:22: ${S}.matchActions[0].argSig: the Signal action needs argSig, the signal number to send`,
    ],
    [
      "{action: Signal, argSig: 0}",
      `c.yaml:10:39: ${S}.matchActions[0].argSig: 0 is not a signal number (1 to 64)`,
    ],
    [
      "{action: Signal, argSig: 65}",
      `c.yaml:10:39: ${S}.matchActions[0].argSig: 65 is not a signal number (1 to 64)`,
    ],
    [
      "{action: Signal, argSig: -9}",
      `c.yaml:10:39: ${S}.matchActions[0].argSig: -9 is not a signal number (1 to 64)`,
    ],
    [
      "{action: Signal, argSig: 9, rateLimit: 1m}",
      `c.yaml:10:50: ${S}.matchActions[0].rateLimit: rateLimit is not used by the Signal action`,
    ],
  ])("refuses %s", (action, message) => {
    expect(compileError(setnsWith(`matchActions: [${action}]`))).toBe(message);
  });
});

describe("compileSelector: Post rateLimit", () => {
  it.each([
    ["'30'", undefined, 30n, "thread"],
    ["10s", undefined, 10n, "thread"],
    ["5m", "process", 300n, "process"],
    ["1h", "global", 3600n, "global"],
    ["1m", "thread", 60n, "thread"],
  ])("rateLimit %s, scope %s: one post per %d s per %s", (rate, scope, seconds, expectedScope) => {
    const action = `{action: Post, rateLimit: ${rate}${scope === undefined ? "" : `, rateLimitScope: ${scope}`}}`;
    expect(selectors(setnsWith(`matchActions: [${action}]`))).toStrictEqual([
      { action: 1, rateLimit: { intervalNs: seconds * 1_000_000_000n, scope: expectedScope } },
    ]);
  });

  it("monitor mode keeps it (it is not an enforcement)", () => {
    expect(
      selectors(
        setnsWith(
          "matchActions: [{action: Post, rateLimit: 1m}]",
          "options: [{name: policy-mode, value: monitor}]",
        ),
      ),
    ).toStrictEqual([{ action: 1, rateLimit: { intervalNs: 60_000_000_000n, scope: "thread" } }]);
  });

  it.each([
    [
      "{action: Post, rateLimit: '0'}",
      `c.yaml:10:37: ${S}.matchActions[0].rateLimit: must be at least 1 second`,
    ],
    [
      "{action: Post, rateLimit: 0h}",
      `c.yaml:10:37: ${S}.matchActions[0].rateLimit: must be at least 1 second`,
    ],
    [
      "{action: Post, rateLimitScope: process}",
      `c.yaml:10:37: ${S}.matchActions[0].rateLimitScope: is only used with rateLimit`,
    ],
    [
      "{action: NoPost, rateLimit: 1m}",
      `c.yaml:10:39: ${S}.matchActions[0].rateLimit: rateLimit is not used by the NoPost action`,
    ],
  ])("refuses %s", (action, message) => {
    expect(compileError(setnsWith(`matchActions: [${action}]`))).toBe(message);
  });
});

describe("compileSelector: everything in one selector", () => {
  it("compiles every filter of one selector into one table", () => {
    expect(
      selectors(
        hookWith(
          "sys_setns",
          "[{index: 0, type: fd}, {index: 1, type: int}]",
          [
            "{label: all,",
            "matchPIDs: [{operator: NotIn, values: [1]}],",
            "matchArgs: [{index: 1, operator: Mask, values: ['0x40000000']}, {index: 0, operator: Prefix, values: ['net:']}],",
            "matchBinaries: [{operator: In, values: [/usr/bin/nsenter], followChildren: true}],",
            "matchNamespaces: [{namespace: Mnt, operator: NotIn, values: [host_ns]}],",
            "matchNamespaceChanges: [{operator: In, values: [Net]}],",
            "matchCapabilities: [{operator: In, values: [CAP_SYS_ADMIN]}],",
            "matchCapabilityChanges: [{operator: In, values: [CAP_SYS_ADMIN]}],",
            "matchHostNamespaceEntry: [{operator: In, values: [Net]}],",
            "matchActions: [{action: Signal, argSig: 9}]}",
          ].join(" "),
        ),
      ),
    ).toStrictEqual([
      {
        action: 10,
        signal: 9,
        label: "all",
        pids: { op: "NotIn", isNamespacePid: false, followForks: false, values: [1] },
        args: [
          { type: "int", op: "Mask", index: 1, values: [0x40000000n], width32: true, signed: true },
          { type: "string", op: "Prefix", index: 0, stringSlot: 0, values: ["net:"] },
        ],
        binary: { op: "Equal", values: ["/usr/bin/nsenter"], followChildren: true },
        namespaces: [{ kind: 2, op: "NotIn", values: [], host: true }],
        namespaceChanges: { op: "In", kinds: 1 << 5 },
        capabilities: [{ set: 0, op: "In", isNamespaceCapability: false, mask: 1n << 21n }],
        capabilityChanges: [{ set: 0, op: "In", isNamespaceCapability: false, mask: 1n << 21n }],
        hostNamespaceEntry: { op: "In", kinds: 1 << 5 },
      },
    ]);
  });
});
