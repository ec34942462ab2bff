import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it, vi } from "vitest";
import { main } from "./main.js";
import { captureIo } from "./testing/capture-io.js";

// `nsguard tracingpolicy lint` through the CLI, on the malformed-policy corpus
// (packages/policy/testdata/malformed/README.md): the message of a refused file is exactly the
// header's, with the file name in front, as `nsguard agent --tracing-policy` would print it.

const agentModule = vi.hoisted(() => ({ loads: 0 }));
vi.mock("@nsguard/agent", () => {
  agentModule.loads++;
  return {};
});

const CORPUS = fileURLToPath(new URL("../../policy/testdata/malformed/", import.meta.url));
const EXAMPLES = fileURLToPath(new URL("../../../examples/", import.meta.url));
const corpus = readdirSync(CORPUS)
  .filter((f) => f.endsWith(".yaml"))
  .sort()
  .map((file) => {
    const text = readFileSync(`${CORPUS}${file}`, "utf8");
    const header = (name: string) => new RegExp(`^# ${name}: ?(.*)$`, "m").exec(text)?.[1] ?? "";
    return { file, path: `${CORPUS}${file}`, stage: header("stage"), error: header("error") };
  });
const withSource = (source: string, error: string) =>
  /^\d/.test(error) ? `${source}:${error}` : `${source}: ${error}`;

const lint = async (...files: string[]) => {
  const io = captureIo();
  const code = await main(["node", "nsguard", "tracingpolicy", "lint", ...files], io);
  return { code, out: io.out(), err: io.err() };
};

describe("nsguard tracingpolicy lint", () => {
  it.each(corpus.filter((c) => c.stage !== "load"))("$file: exit 1 and the load's message", async (c) => {
    expect(await lint(c.path)).toEqual({ code: 1, out: "", err: `${withSource(c.path, c.error)}\n` });
  });

  it("passes what only the kernel refuses (a kernel function needs kprobes): that shows at load", async () => {
    const load = corpus.filter((c) => c.stage === "load");
    expect(load.length).toBeGreaterThan(0);
    for (const c of load) expect((await lint(c.path)).code).toBe(0);
  });

  it("accepts every example policy, one line each", async () => {
    // Every examples/*.yaml: a new example is linted (compiled for this machine) without editing this list.
    const expected: Record<string, string> = {
      "deny-host-namespace-entry.yaml": "deny-host-namespace-entry: 1 hook",
      "deny-namespace-access.yaml": "deny-namespace-access: 1 hook",
      "namespace-access.yaml": "namespace-access: 1 hook",
      "namespace-surface.yaml": "namespace-surface: 4 hooks",
    };
    const files = readdirSync(EXAMPLES)
      .filter((f) => f.endsWith(".yaml"))
      .sort();
    expect(files).toEqual(Object.keys(expected).sort());
    const r = await lint(...files.map((f) => `${EXAMPLES}${f}`));
    expect(r.code).toBe(0);
    expect(r.err).toBe("");
    expect(r.out).toBe(files.map((f) => `${EXAMPLES}${f}: ok (${expected[f]})\n`).join(""));
  });

  it("checks every file: one bad file among good ones fails the run, the others still report", async () => {
    const bad = corpus.find((c) => c.file.includes("duplicate-key-top"));
    if (bad === undefined) throw new Error("corpus lacks the duplicate-key case");
    const good = `${EXAMPLES}namespace-access.yaml`;
    const r = await lint(good, bad.path, `${CORPUS}absent.yaml`, good);
    expect(r.code).toBe(1);
    expect(r.out).toBe(`${good}: ok (namespace-access: 1 hook)\n`.repeat(2));
    expect(r.err).toBe(
      `${withSource(bad.path, bad.error)}\n${CORPUS}absent.yaml: cannot read policy file ${CORPUS}absent.yaml: no such file\n`,
    );
  });

  it("needs neither an agent nor the kernel", () => {
    expect(agentModule.loads).toBe(0);
  });
});
