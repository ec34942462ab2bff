import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { it } from "vitest";

/**
 * Root-tier tests load BPF programs and create namespaces. They run when we are root; elsewhere
 * they skip with a message — except in CI (which runs as root on the same kernel), where being
 * unable to run them is a failure, not a skip.
 */
export const isRoot = process.getuid?.() === 0;

export function rootIt(name: string, fn: () => Promise<void>, timeoutMs = 60_000): void {
  if (isRoot) {
    it(name, fn, timeoutMs);
  } else if (process.env.CI) {
    it(name, () => {
      throw new Error("root-tier test cannot run: CI must run as root");
    });
  } else {
    it.skip(`${name} (skipped: needs root and BPF)`, fn);
  }
}

/** Ids of loaded BPF programs named nsguard_* (compare before/after: other tests may load theirs). */
export function loadedNsguardPrograms(): Set<number> {
  const out = execFileSync("bpftool", ["prog", "show", "-j"], { encoding: "utf8" });
  const programs = JSON.parse(out) as { id: number; name?: string }[];
  return new Set(programs.filter((p) => p.name?.startsWith("nsguard")).map((p) => p.id));
}

export function randomContainerId(): string {
  return randomBytes(32).toString("hex");
}

/** Resolves when `predicate` holds, polling; rejects after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
