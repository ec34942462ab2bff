import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { equals, fromJson, type JsonValue } from "@bufbuild/protobuf";
import { FineGuidanceSensors, type GetEventsResponse, GetEventsResponseSchema } from "@nsguard/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sampleExecEvent, sampleKprobeEvent } from "./testing/events.js";
import { MemoryPolicyStore } from "./testing/memory-policy-store.js";
import { startTestServer, type TestServer } from "./testing/test-server.js";
import { waitFor } from "./testing/wait-for.js";

// examples/buf-curl/README.md is the user's page of ad hoc queries; every command in it runs
// here, as written, through a shell, against a real server (only the address and socket path
// are the test server's). The comment before each block says what the recipe answers.
const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const readme = readFileSync(`${repoRoot}examples/buf-curl/README.md`, "utf8");

type Expect = "ok" | "stream" | "failed_precondition" | "unimplemented";
interface Recipe {
  expect: Expect;
  command: string;
}

const recipes: Recipe[] = [...readme.matchAll(/<!-- recipe: (\w+) -->\n```sh\n([\s\S]*?)\n```/g)].map(
  (m) => ({
    expect: m[1] as Expect,
    command: m[2] as string,
  }),
);

function run(command: string, t: TestServer) {
  const concrete = command
    .replaceAll("http://localhost:54321", t.url)
    .replaceAll("/var/run/nsguard/nsguard.sock", t.socketPath);
  const child = spawn("sh", ["-c", concrete], {
    cwd: repoRoot,
    env: { ...process.env, PATH: `${repoRoot}node_modules/.bin:${process.env.PATH}` },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true, // its own process group: stop() reaches buf's Go process behind the npm shim
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  const stop = () => {
    if (child.pid !== undefined && child.exitCode === null) {
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        // already gone
      }
    }
  };
  return { stdout: () => out, stderr: () => err, exited, stop };
}

describe("examples/buf-curl recipes", () => {
  let t: TestServer;
  const policies = new MemoryPolicyStore();
  beforeAll(async () => {
    t = await startTestServer({ deps: { policies } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it("cover every FineGuidanceSensors RPC, and curl", () => {
    const rpcs = new Set(recipes.map((r) => /FineGuidanceSensors\/(\w+)/.exec(r.command)?.[1]));
    for (const method of FineGuidanceSensors.methods) expect(rpcs).toContain(method.name);
    expect(recipes.some((r) => r.command.startsWith("curl "))).toBe(true);
  });

  // In order: the policy recipes add, configure, then delete the same policy.
  for (const [i, recipe] of recipes.entries()) {
    const rpc = /FineGuidanceSensors\/(\w+)/.exec(recipe.command)?.[1] ?? recipe.command.slice(0, 60);
    it(`#${i + 1} ${recipe.command.split(" ")[0]} ${rpc}: ${recipe.expect}`, async () => {
      const curl = run(recipe.command, t);
      if (recipe.expect === "stream") {
        await waitFor(() => t.hub.subscriberCount === 1, "the stream to subscribe", 30_000);
        const wanted = [
          sampleKprobeEvent(1, { namespace: "prod" }),
          sampleKprobeEvent(2, { namespace: "prod" }),
        ];
        t.hub.publish(sampleExecEvent(3)); // not in the allow list
        for (const e of wanted) t.hub.publish(e);
        await waitFor(() => (curl.stdout().match(/^\}$/gm) ?? []).length >= 2, "the events to print", 30_000);
        curl.stop();
        await curl.exited;
        const printed = curl
          .stdout()
          .split(/(?<=^\})\n(?=\{)/m)
          .map((s) => fromJson(GetEventsResponseSchema, JSON.parse(s) as JsonValue));
        expect(printed).toHaveLength(2);
        printed.forEach((p, i) => {
          expect(equals(GetEventsResponseSchema, p, wanted[i] as GetEventsResponse)).toBe(true);
        });
        return;
      }
      const code = await curl.exited;
      if (recipe.expect === "ok") {
        expect(curl.stderr()).toBe("");
        expect(code).toBe(0);
        expect(curl.stdout()).not.toBe("");
        if (recipe.command.includes("/GetVersion")) {
          expect(JSON.parse(curl.stdout())).toEqual({ version: "v0.0.0-test" });
        }
      } else {
        expect(code).not.toBe(0);
        expect(JSON.parse(curl.stderr())).toMatchObject({ code: recipe.expect });
      }
    }, 60_000);
  }

  it("change the policy store as documented", () => {
    // ListTracingPolicies, AddTracingPolicy, ConfigureTracingPolicy, ListDomains (from the
    // list), DeleteTracingPolicy, then curl's ListTracingPolicies.
    expect(policies.calls.map((c) => c[0])).toEqual(["list", "add", "configure", "list", "delete", "list"]);
    expect(policies.calls[2]?.[1]).toMatchObject({ name: "namespace-access", mode: 2 });
  });
});
