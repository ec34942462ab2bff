// SPDX-License-Identifier: Apache-2.0

import type { Arch } from "./arch.js";

// How `syscall: true` turns `call` into the kernel's syscall wrapper symbol, after Tetragon's
// pkg/arch AddSyscallPrefix (reference §2.6): a name that already carries the right prefix is kept,
// a name carrying another architecture's prefix is an error, any other name gets the prefix added.

/** Tetragon's prefix table, keyed by the architecture names used in nsguard. */
export const SYSCALL_PREFIXES: Readonly<Record<Arch | "i386", string>> = {
  x86_64: "__x64_",
  arm64: "__arm64_",
  i386: "__ia32_",
};

export interface SyscallSymbol {
  /** The wrapper symbol Tetragon reports as `function_name`, e.g. `__x64_sys_setns`. */
  functionName: string;
  /** The bare syscall name, which names the `syscalls/sys_enter_<name>` tracepoint, e.g. `setns`. */
  syscall: string;
}

export type SyscallSymbolResult = ({ ok: true } & SyscallSymbol) | { ok: false; reason: string };

const SYS_NAME = /^sys_[a-z0-9_]+$/;
const BARE_NAME = /^[a-z0-9_]+$/;

/** Resolves `call` of a `syscall: true` hook for `arch`; `reason` is one line fit for a PolicyError. */
export function resolveSyscallSymbol(call: string, arch: Arch): SyscallSymbolResult {
  const prefix = SYSCALL_PREFIXES[arch];
  let name = call;
  for (const [prefixArch, otherPrefix] of Object.entries(SYSCALL_PREFIXES)) {
    if (!call.startsWith(otherPrefix)) continue;
    if (prefixArch !== arch) {
      return {
        ok: false,
        reason: `${JSON.stringify(call)} carries the ${prefixArch} syscall prefix ${JSON.stringify(otherPrefix)}, but the target architecture is ${arch} (prefix ${JSON.stringify(prefix)}); write ${JSON.stringify(call.slice(otherPrefix.length))} and nsguard adds the right prefix`,
      };
    }
    name = call.slice(otherPrefix.length);
    break;
  }
  if (!SYS_NAME.test(name)) {
    // Tetragon would prepend the prefix anyway (`setns` → `__x64_setns`) and then fail to find the
    // symbol at load time; saying what was meant is kinder.
    if (BARE_NAME.test(name)) {
      return {
        ok: false,
        reason: `${JSON.stringify(call)} is not a syscall symbol; with syscall: true write ${JSON.stringify(`sys_${name}`)} (nsguard adds the ${JSON.stringify(prefix)} prefix)`,
      };
    }
    return {
      ok: false,
      reason: `${JSON.stringify(call)} is not a valid syscall symbol; expected a name like "sys_setns"`,
    };
  }
  return { ok: true, functionName: `${prefix}${name}`, syscall: name.slice("sys_".length) };
}
