import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { create } from "@bufbuild/protobuf";
import { GetEventsResponseSchema } from "@nsguard/sdk";
import { EventHub } from "@nsguard/server";
import { afterAll, describe, expect, it } from "vitest";
import { waitFor } from "../../../server/src/testing/wait-for.js";
import { JsonExporter } from "./json-exporter.js";

// The built exporter in a child process that publishes as fast as it can, rotating and gzipping
// small files, until it is SIGKILLed: a real kill at whatever point it lands.
const dist = new URL("../../dist/export/json-exporter.js", import.meta.url).href;
const serverDist = new URL("../../../server/dist/index.js", import.meta.url).href;
const sdkDist = new URL("../../../sdk/dist/index.js", import.meta.url).href;
const CHILD = `
const { JsonExporter } = await import(${JSON.stringify(dist)});
const { EventHub } = await import(${JSON.stringify(serverDist)});
const { fromJsonLine } = await import(${JSON.stringify(sdkDist)});
const [file, firstPid] = process.argv.slice(2);
const hub = new EventHub({ queueSize: 100000 });
await JsonExporter.start(hub, { filename: file, nodeName: "n", maxSizeMb: 0.05, maxBackups: 4, compress: true });
let pid = Number(firstPid);
const burst = () => {
  for (let i = 0; i < 200; i++) {
    const line = { process_exec: { process: { pid: pid++, binary: "/bin/" + "x".repeat(pid % 300) } }, node_name: "n" };
    hub.publish(fromJsonLine(JSON.stringify(line)));
  }
  setImmediate(burst);
};
burst();
`;

function linesOf(path: string): string[] {
  const data = path.endsWith(".gz") ? gunzipSync(readFileSync(path)) : readFileSync(path);
  return data.toString("utf8").split("\n");
}

describe("JsonExporter across SIGKILL", () => {
  const dir = mkdtempSync(join(tmpdir(), "nsguard-export-kill-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("after kills at random points and a restart, every line of every file (gunzipped) parses, in order", async () => {
    const script = join(dir, "child.mjs");
    writeFileSync(script, CHILD);
    const file = join(dir, "events.log");
    for (let round = 0; round < 4; round++) {
      const child = spawn(process.execPath, [script, file, String(round * 10_000_000)], { stdio: "inherit" });
      const exited = new Promise((r) => child.once("exit", r));
      // Let it rotate a few times, then kill it wherever it is.
      const rotated = () => readdirSync(dir).filter((n) => n.startsWith("events.log.")).length;
      await waitFor(() => rotated() >= 2 + round, "the child to rotate", 30_000);
      await new Promise((r) => setTimeout(r, Math.random() * 50));
      child.kill("SIGKILL");
      await exited;
    }
    // The kill may have left a torn last line, a plain backup or a half-written .gz.tmp; the
    // next start repairs all three.
    const warnings: string[] = [];
    const hub = new EventHub();
    const exporter = await JsonExporter.start(hub, {
      filename: file,
      nodeName: "n",
      maxSizeMb: 0.05,
      maxBackups: 4,
      compress: true,
      onError: (e) => warnings.push(e.message),
    });
    hub.publish(
      create(GetEventsResponseSchema, {
        event: { case: "processExec", value: { process: { pid: 99_000_000, binary: "/bin/last" } } },
      }),
    );
    await waitFor(() => exporter.stats().written === 1, "the last event");
    await exporter.close();
    const names = readdirSync(dir).filter((n) => n.startsWith("events.log"));
    expect(names.sort()).toEqual([
      "events.log",
      "events.log.1.gz",
      "events.log.2.gz",
      "events.log.3.gz",
      "events.log.4.gz",
    ]);
    const pids: number[] = [];
    for (const name of [
      "events.log.4.gz",
      "events.log.3.gz",
      "events.log.2.gz",
      "events.log.1.gz",
      "events.log",
    ]) {
      const lines = linesOf(join(dir, name));
      expect(lines.pop(), `${name} ends with a newline`).toBe("");
      for (const line of lines) pids.push(JSON.parse(line).process_exec.process.pid);
    }
    // Oldest to newest: strictly increasing (a kill loses what was in flight, never reorders
    // or duplicates), and the restart's event last.
    expect(pids.every((p, k) => k === 0 || p > (pids[k - 1] as number))).toBe(true);
    expect(pids.at(-1)).toBe(99_000_000);
    expect(existsSync(`${file}.1`)).toBe(false);
    console.log(`kill test: ${pids.length} lines kept, warnings: ${JSON.stringify(warnings)}`);
  }, 120_000);
});
