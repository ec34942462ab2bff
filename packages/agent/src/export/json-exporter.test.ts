import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { GetEventsResponseSchema, ProcessExecSchema } from "@nsguard/sdk";
import { EventHub } from "@nsguard/server";
import { afterEach, describe, expect, it } from "vitest";
import { JsonExporter } from "./json-exporter.js";

function execEvent(i: number) {
  return create(GetEventsResponseSchema, {
    nodeName: "node-1",
    event: {
      case: "processExec",
      value: create(ProcessExecSchema, { process: { binary: `/bin/x${i}`, pid: i } }),
    },
  });
}

describe("JsonExporter", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it("writes one protojson line per published event, with Tetragon's snake_case names", async () => {
    const dir = mkdtempSync(join(tmpdir(), "nsguard-export-"));
    dirs.push(dir);
    const hub = new EventHub();
    const file = join(dir, "events.log");
    const exporter = new JsonExporter(hub, { filename: file });
    await new Promise((r) => setTimeout(r, 10));
    for (let i = 1; i <= 3; i++) hub.publish(execEvent(i));
    await new Promise((r) => setTimeout(r, 50));
    await exporter.close();
    const lines = readFileSync(file, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines).toEqual(
      [1, 2, 3].map((i) => ({
        process_exec: { process: { binary: `/bin/x${i}`, pid: i } },
        node_name: "node-1",
      })),
    );
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it("rotates by size and keeps at most maxBackups old files", async () => {
    const dir = mkdtempSync(join(tmpdir(), "nsguard-export-"));
    dirs.push(dir);
    const hub = new EventHub({ queueSize: 100000 });
    const file = join(dir, "events.log");
    const exporter = new JsonExporter(hub, { filename: file, maxSizeMb: 0.01, maxBackups: 2 });
    await new Promise((r) => setTimeout(r, 10));
    for (let i = 0; i < 2000; i++) hub.publish(execEvent(i)); // ~120 KB: many rotations
    await new Promise((r) => setTimeout(r, 300));
    await exporter.close();
    expect(readdirSync(dir).sort()).toEqual(["events.log", "events.log.1", "events.log.2"]);
    for (const name of readdirSync(dir)) expect(statSync(join(dir, name)).size).toBeLessThan(20_000);
  });
});
