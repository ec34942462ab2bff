import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

// The real `nsguard agent` binary, as a user runs it: start-up problems must give one clear line
// on stderr and a non-zero exit, never a stack trace, and must leave nothing loaded.
const bin = new URL("../bin/nsguard.js", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "nsguard-cli-errors-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function agentWith(policyText: string | undefined, name = "policy.yaml", extraArgs: string[] = []) {
  const file = join(dir, name);
  if (policyText !== undefined) writeFileSync(file, policyText);
  return spawnSync(
    process.execPath,
    [
      bin,
      "agent",
      "--tracing-policy",
      file,
      "--server-address",
      "127.0.0.1:0",
      "--server-socket",
      join(dir, "s.sock"),
      // Concurrent test files start agents too: no fixed probe port.
      "--health-server-address",
      "127.0.0.1:0",
      "--log-level",
      "warn",
      ...extraArgs,
    ],
    { encoding: "utf8", timeout: 30_000 },
  );
}

function expectOneLine(result: ReturnType<typeof spawnSync>, pattern: RegExp) {
  expect(result.status).toBe(1);
  const stderr = String(result.stderr);
  expect(stderr.trimEnd().split("\n")).toHaveLength(1);
  expect(stderr).not.toMatch(/\n\s+at /);
  expect(stderr).toMatch(pattern);
}

const SEED_HEAD = `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: "namespace-access"
spec:
  kprobes:
  - call: "sys_setns"
    syscall: true
`;

// Each case starts the real CLI process (node + the agent's modules): seconds on a loaded 2-core machine.
describe("nsguard agent start-up errors", { timeout: 60_000 }, () => {
  it("a CRI endpoint nothing listens on", () => {
    const socket = join(dir, "no-runtime.sock");
    expectOneLine(
      agentWith(SEED_HEAD, "cri.yaml", ["--cri-endpoint", `unix://${socket}`]),
      /^nsguard agent: CRI Version at .*no-runtime\.sock: /,
    );
  });

  it("a missing policy file", () => {
    expectOneLine(agentWith(undefined, "nope.yaml"), /^nsguard agent: .*nope\.yaml.*no such file/i);
  });

  it("a malformed policy: bad YAML", () => {
    expectOneLine(
      agentWith(`${SEED_HEAD}    args: [\n`, "broken.yaml"),
      /^nsguard agent: .*broken\.yaml:\d+:\d+/,
    );
  });

  it("a malformed policy: an unknown argument type, with its field path and position", () => {
    const bad = `${SEED_HEAD}    args:\n    - index: 0\n      type: "inty"\n`;
    expectOneLine(
      agentWith(bad, "badtype.yaml"),
      /badtype\.yaml:11:\d+: spec\.kprobes\[0\]\.args\[0\]\.type: .*inty/,
    );
  });

  it("a hook on a syscall this architecture does not have, found before the kernel is touched", () => {
    const policy = SEED_HEAD.replace("sys_setns", "sys_nsguard_nonexistent");
    expectOneLine(
      agentWith(policy, "nohook.yaml"),
      /^nsguard agent: .*nohook\.yaml:7:5: spec\.kprobes\[0\]\.call: "sys_nsguard_nonexistent": x86_64 has no syscall named nsguard_nonexistent$/m,
    );
  });

  it("--enable-k8s-api with a kubeconfig that does not exist", () => {
    const missing = join(dir, "no-kubeconfig.yaml");
    expectOneLine(
      agentWith(SEED_HEAD, "k8s.yaml", ["--enable-k8s-api", "--k8s-kubeconfig-path", missing]),
      /^nsguard agent: cannot load kubeconfig .*no-kubeconfig\.yaml/,
    );
  });

  it("an export filter that does not compile, and one that is not JSON", () => {
    const exportFile = join(dir, "export.log");
    expectOneLine(
      agentWith(SEED_HEAD, "allow.yaml", [
        "--export-filename",
        exportFile,
        "--export-allowlist",
        '{"binary_regex":["("]}',
      ]),
      /^nsguard agent: export filters: binary_regex: /,
    );
    expectOneLine(
      agentWith(SEED_HEAD, "deny.yaml", ["--export-filename", exportFile, "--export-denylist", "{nope"]),
      /^nsguard agent: --export-denylist: "\{nope": /,
    );
    expect(existsSync(exportFile)).toBe(false);
  }, 60_000);
});
