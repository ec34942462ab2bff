import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/** Directory of the built BPF objects (bpf/.output of the @nsguard/bpf workspace package). */
export function defaultBpfDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve("@nsguard/bpf/package.json")), ".output");
}

export function bpfObjectPath(dir: string, name: "process" | "syscalls"): string {
  const path = join(dir, `${name}.bpf.o`);
  if (!existsSync(path)) {
    throw new Error(`BPF object ${path} is missing: build it with \`pnpm --filter @nsguard/bpf build\``);
  }
  return path;
}
