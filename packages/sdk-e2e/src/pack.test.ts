import { execFile, spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kprobeEvent, startTestAgent, type TestAgent, waitFor } from "./agent.js";

const run = promisify(execFile);
const sdkDir = fileURLToPath(new URL("../../sdk/", import.meta.url));
const workspaceTsc = fileURLToPath(new URL("../node_modules/typescript/bin/tsc", import.meta.url));
const workspaceTypes = fileURLToPath(new URL("../node_modules/@types", import.meta.url));

// What a user writes: the Node entry (gRPC) and the web entry (gRPC-Web over fetch, which
// Node 20 has too), each streaming with a server-side filter built by filter(). Leaving the
// loops must release the connections: the process exits on its own.
const consumerTs = `
import { createNsguardClient, EventType, filter, streamEvents, toCompact, type GetEventsResponse } from "@nsguard/sdk";
import { createNsguardWebClient } from "@nsguard/sdk/web";

const [address, url] = process.argv.slice(2) as [string, string];
const request = { allowList: [filter().eventTypes(EventType.PROCESS_KPROBE).binaryRegex("nsenter$").build()] };
async function first(name: string, events: AsyncIterable<GetEventsResponse>): Promise<void> {
  for await (const event of events) {
    console.log(JSON.stringify({ name, compact: toCompact(event) }));
    return;
  }
}
await Promise.all([
  first("node", streamEvents(createNsguardClient(address), request)),
  first("web", streamEvents(createNsguardWebClient(url), request)),
]);
`;

describe("the packed @nsguard/sdk, installed outside the workspace", () => {
  let project: string;
  let agent: TestAgent;

  beforeAll(async () => {
    project = await mkdtemp(join(tmpdir(), "nsguard-sdk-consumer-"));
    await run("pnpm", ["pack", "--pack-destination", project], { cwd: sdkDir });
    agent = await startTestAgent();
  }, 60_000);
  afterAll(async () => {
    await agent?.close();
    if (project) await rm(project, { recursive: true, force: true });
  });

  it("has a manifest that installs from the registry alone", async () => {
    const tarball = (await readdir(project)).find((f) => f.endsWith(".tgz")) ?? "";
    const { stdout } = await run("tar", ["-xzOf", join(project, tarball), "package/package.json"]);
    const manifest = JSON.parse(stdout);
    expect(manifest.private).toBeUndefined();
    const deps = { ...manifest.dependencies, ...manifest.peerDependencies, ...manifest.optionalDependencies };
    expect(Object.keys(deps).filter((d) => d.startsWith("@nsguard/"))).toEqual([]);
    expect(JSON.stringify(deps)).not.toContain("workspace:");
    const { stdout: list } = await run("tar", ["-tzf", join(project, tarball)]);
    const files = list.trim().split("\n");
    expect(files).toContain("package/dist/index.js");
    expect(files).toContain("package/dist/web.d.ts");
    expect(files).toContain("package/README.md");
    expect(files.filter((f) => /\.test\.|\/src\/|\/testing\//.test(f))).toEqual([]);
  });

  it("type-checks a consumer and streams a real event through both entries", async () => {
    const tarball = (await readdir(project)).find((f) => f.endsWith(".tgz")) ?? "";
    await writeFile(
      join(project, "package.json"),
      JSON.stringify({ name: "consumer", private: true, type: "module" }),
    );
    await run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", `./${tarball}`], {
      cwd: project,
      timeout: 180_000,
    });
    const installed = JSON.parse(
      await readFile(join(project, "node_modules/@nsguard/sdk/package.json"), "utf8"),
    );
    expect(installed.name).toBe("@nsguard/sdk");

    // Types resolve through the package's "exports" (both subpaths), as in a user's project.
    await writeFile(join(project, "consumer.ts"), consumerTs);
    const tscArgs = [
      "--strict",
      "--module",
      "nodenext",
      "--target",
      "es2023",
      "--skipLibCheck",
      "--outDir",
      "out",
    ];
    // The consumer project has no @types/node of its own: use the workspace's.
    await run(process.execPath, [workspaceTsc, ...tscArgs, "--typeRoots", workspaceTypes, "consumer.ts"], {
      cwd: project,
    });

    const child = spawn(process.execPath, ["out/consumer.js", agent.address, agent.url], {
      cwd: project,
      stdio: ["ignore", "pipe", "inherit"],
    });
    const lines: { name: string; compact: string }[] = [];
    createInterface({ input: child.stdout }).on("line", (l) => lines.push(JSON.parse(l)));
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    try {
      await waitFor(() => agent.hub.subscriberCount === 2, "both installed clients to subscribe", 30_000);
      agent.hub.publish(kprobeEvent("/usr/bin/ls"));
      agent.hub.publish(kprobeEvent("/usr/bin/nsenter", { namespace: "default", name: "web-1" }));
      expect(await exited).toBe(0);
    } finally {
      child.kill();
    }
    expect(lines.map((l) => l.name).sort()).toEqual(["node", "web"]);
    for (const line of lines) expect(line.compact).toContain("/usr/bin/nsenter");
  }, 90_000);
});
