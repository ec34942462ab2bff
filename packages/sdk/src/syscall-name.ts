// Arch prefixes the kernel puts on syscall wrapper symbols (Tetragon pkg/arch). Compat
// entry points (`__ia32_compat_sys_…`) are folded too, because nsguard also hooks the
// 32-bit entry path and those events describe the same syscall.
const prefixes = ["__x64_", "__arm64_", "__ia32_", "__x32_"];

/**
 * Cuts the arch prefix from a kprobe function name: `__x64_sys_setns` → `sys_setns`.
 * Names without a known prefix (`sys_setns`, `fd_install`) are returned unchanged.
 */
export function cutSyscallPrefix(functionName: string): string {
  for (const p of prefixes) {
    if (functionName.startsWith(p)) {
      const rest = functionName.slice(p.length);
      return rest.startsWith("compat_sys_") ? rest.slice("compat_".length) : rest;
    }
  }
  return functionName;
}
