import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CompiledPolicy } from "@nsguard/policy";
import { TracingPolicyMode, TracingPolicyState, type TracingPolicyStatus } from "@nsguard/sdk";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { waitFor } from "../e2e/root-tier.js";
import { PolicyDirectory } from "./policy-directory.js";
import { AgentPolicyStore, type PolicyLoader } from "./policy-store.js";

// --tracing-policy-dir against a real directory and the real store; the loader records what the
// sensor would hold (the root tier runs the same store on the kernel: policies.root.test.ts).

function policy(name: string, extra = ""): string {
  return `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: ${name}
spec:
${extra}  kprobes:
  - call: sys_setns
    syscall: true
`;
}
const MONITOR = "  options:\n  - name: policy-mode\n    value: monitor\n";

let dir: string;
let loaded: Map<string, CompiledPolicy>;
let store: AgentPolicyStore;
let directory: PolicyDirectory | undefined;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "nsguard-policy-dir-"));
  loaded = new Map();
  const loader: PolicyLoader = {
    async loadPolicy(key, compiled) {
      // As the sensor on this kernel: only syscall hooks attach.
      if (compiled.hooks.some((h) => h.attach.kind !== "syscall-tracepoint"))
        throw new Error("no kprobes here");
      loaded.set(key, compiled);
    },
    async unloadPolicy(key) {
      if (!loaded.delete(key)) throw new Error(`${key} was not loaded`);
    },
  };
  store = new AgentPolicyStore(loader);
});
afterEach(async () => {
  await directory?.close();
  directory = undefined;
  rmSync(dir, { recursive: true, force: true });
});

const open = async () => {
  directory = await PolicyDirectory.open(dir, store, pino({ level: "silent" }));
  return directory;
};
const byName = () => new Map(store.list().map((p) => [p.name, p] as [string, TracingPolicyStatus]));
const loadedNames = () => [...loaded.values()].map((p) => p.name).sort();
/** Waits until the store shows `predicate` (a change is seen after the watcher's event and settle time). */
const until = (predicate: () => boolean, what: string) => waitFor(predicate, 10_000, what);

describe("--tracing-policy-dir", () => {
  it("loads every *.yaml and *.yml at start; hidden and other files are not policies", async () => {
    writeFileSync(join(dir, "a.yaml"), policy("a"));
    writeFileSync(join(dir, "b.yml"), policy("b"));
    writeFileSync(join(dir, ".c.yaml.swp"), policy("c"));
    writeFileSync(join(dir, "d.yaml~"), policy("d"));
    writeFileSync(join(dir, "README.md"), "not a policy");
    mkdirSync(join(dir, "sub.yaml"));
    await open();
    expect(loadedNames()).toEqual(["a", "b"]);
    expect([...byName().values()].map((p) => [p.name, p.domain, p.state])).toEqual([
      ["a", "static", TracingPolicyState.TP_STATE_ENABLED],
      ["b", "static", TracingPolicyState.TP_STATE_ENABLED],
    ]);
  });

  it("one file's errors never affect the others; one that parses but does not compile is listed as a load error", async () => {
    writeFileSync(join(dir, "good.yaml"), policy("good"));
    writeFileSync(join(dir, "broken.yaml"), `${policy("broken")}    args: [\n`);
    writeFileSync(join(dir, "uncompilable.yaml"), policy("uncompilable").replace("sys_setns", "sys_setnss"));
    const d = await open();
    expect(loadedNames()).toEqual(["good"]);
    const listed = byName();
    expect([...listed.keys()]).toEqual(["good", "uncompilable"]);
    expect(listed.get("uncompilable")).toMatchObject({
      state: TracingPolicyState.TP_STATE_LOAD_ERROR,
      enabled: false,
      error: `${join(dir, "uncompilable.yaml")}:7:5: spec.kprobes[0].call: "sys_setnss": x86_64 has no syscall named setnss`,
    });
    expect(d.state().get("broken.yaml")?.error).toMatch(
      new RegExp(`^${join(dir, "broken.yaml")}:\\d+:\\d+: invalid YAML: `),
    );
    expect(d.state().get("broken.yaml")?.key).toBeUndefined();
  });

  it("a new file loads, a changed file replaces its policy, a removed file unloads it", async () => {
    await open();
    writeFileSync(join(dir, "p.yaml"), policy("p"));
    await until(() => byName().has("p"), "the new file's policy");
    const first = [...loaded.keys()];
    expect(first).toHaveLength(1);

    writeFileSync(join(dir, "p.yaml"), policy("p", MONITOR));
    await until(() => byName().get("p")?.mode === TracingPolicyMode.TP_MODE_MONITOR, "the changed policy");
    // One version attached, under a new load key: the old one was detached after the new one attached.
    expect(loaded.size).toBe(1);
    expect([...loaded.keys()]).not.toEqual(first);
    expect([...loaded.values()][0]?.mode).toBe("monitor");
    expect(byName().get("p")?.id).toBe(1n);

    unlinkSync(join(dir, "p.yaml"));
    await until(() => !byName().has("p"), "the removed file's policy to unload");
    expect(loaded.size).toBe(0);
  });

  it("a bad new version leaves the old one loaded and says why in its error, until fixed", async () => {
    writeFileSync(join(dir, "p.yaml"), policy("p"));
    await open();
    const before = [...loaded.keys()];

    writeFileSync(join(dir, "p.yaml"), `${policy("p")}    selectors: [{}, {}, {}, {}, {}, {}]\n`);
    await until(() => byName().get("p")?.error !== "", "the bad version's error");
    expect(byName().get("p")).toMatchObject({
      state: TracingPolicyState.TP_STATE_ENABLED,
      error: `${join(dir, "p.yaml")}:9:16: spec.kprobes[0].selectors: has 6 entries, at most 5 allowed`,
    });
    expect([...loaded.keys()]).toEqual(before);

    // A version that compiles but fails to attach (the sensor refuses) keeps the old one too.
    writeFileSync(join(dir, "p.yaml"), policy("p").replace("syscall: true", "syscall: false"));
    await until(() => byName().get("p")?.error === "no kprobes here", "the next version");
    expect([...loaded.keys()]).toEqual(before);

    writeFileSync(join(dir, "p.yaml"), policy("p", MONITOR));
    await until(() => byName().get("p")?.error === "", "the fixed version");
    expect(byName().get("p")?.mode).toBe(TracingPolicyMode.TP_MODE_MONITOR);
    expect(loaded.size).toBe(1);
  });

  it("an editor's write-to-temporary-then-rename replaces the policy", async () => {
    writeFileSync(join(dir, "p.yaml"), policy("p"));
    await open();
    writeFileSync(join(dir, ".p.yaml.tmp"), policy("p", MONITOR));
    renameSync(join(dir, ".p.yaml.tmp"), join(dir, "p.yaml"));
    await until(
      () => byName().get("p")?.mode === TracingPolicyMode.TP_MODE_MONITOR,
      "the renamed-in version",
    );
    expect(loaded.size).toBe(1);
  });

  it("a renamed policy (new metadata.name in the same file) replaces the old name", async () => {
    writeFileSync(join(dir, "p.yaml"), policy("old-name"));
    await open();
    writeFileSync(join(dir, "p.yaml"), policy("new-name"));
    await until(() => byName().has("new-name"), "the new name");
    expect([...byName().keys()]).toEqual(["new-name"]);
    expect(loadedNames()).toEqual(["new-name"]);
  });

  it("two files with one policy name: the second waits, and loads when the first goes", async () => {
    writeFileSync(join(dir, "a.yaml"), policy("same"));
    writeFileSync(join(dir, "b.yaml"), policy("same", MONITOR));
    const d = await open();
    expect(d.state().get("b.yaml")?.error).toBe(
      "failed to add tracing policy same: a policy with the key static//same already exists",
    );
    unlinkSync(join(dir, "a.yaml"));
    await until(() => byName().get("same")?.mode === TracingPolicyMode.TP_MODE_MONITOR, "b.yaml's version");
    expect(loaded.size).toBe(1);
  });

  it("follows a Kubernetes ConfigMap volume: ..data symlink swaps, and keys removed from the map", async () => {
    // The kubelet's layout (AtomicWriter): name.yaml -> ..data/name.yaml, ..data -> ..<timestamp>.
    const version = (name: string, files: Record<string, string>) => {
      mkdirSync(join(dir, name));
      for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, name, file), text);
    };
    version("..2025_01_01_00_00_00.1", { "p.yaml": policy("p"), "q.yaml": policy("q") });
    symlinkSync("..2025_01_01_00_00_00.1", join(dir, "..data"));
    symlinkSync("..data/p.yaml", join(dir, "p.yaml"));
    symlinkSync("..data/q.yaml", join(dir, "q.yaml"));
    await open();
    expect(loadedNames()).toEqual(["p", "q"]);

    // An update: a new timestamped directory, ..data_tmp pointing at it renamed over ..data.
    version("..2025_01_01_00_01_00.2", { "p.yaml": policy("p", MONITOR), "q.yaml": policy("q") });
    symlinkSync("..2025_01_01_00_01_00.2", join(dir, "..data_tmp"));
    renameSync(join(dir, "..data_tmp"), join(dir, "..data"));
    rmSync(join(dir, "..2025_01_01_00_00_00.1"), { recursive: true });
    await until(
      () => byName().get("p")?.mode === TracingPolicyMode.TP_MODE_MONITOR,
      "the swapped-in version",
    );
    expect(loadedNames()).toEqual(["p", "q"]);

    // q removed from the ConfigMap: the new version lacks it and its top-level symlink goes.
    version("..2025_01_01_00_02_00.3", { "p.yaml": policy("p", MONITOR) });
    symlinkSync("..2025_01_01_00_02_00.3", join(dir, "..data_tmp"));
    renameSync(join(dir, "..data_tmp"), join(dir, "..data"));
    unlinkSync(join(dir, "q.yaml"));
    rmSync(join(dir, "..2025_01_01_00_01_00.2"), { recursive: true });
    await until(() => !byName().has("q"), "q to unload");
    expect(loadedNames()).toEqual(["p"]);
  });

  it("a directory that does not exist fails; a file is not a directory", async () => {
    await expect(PolicyDirectory.open(join(dir, "nope"), store, pino({ level: "silent" }))).rejects.toThrow(
      `--tracing-policy-dir ${join(dir, "nope")}: no such directory`,
    );
    writeFileSync(join(dir, "f"), "");
    await expect(PolicyDirectory.open(join(dir, "f"), store, pino({ level: "silent" }))).rejects.toThrow(
      "not a directory",
    );
  });
});
