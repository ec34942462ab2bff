import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { create, toJson } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import {
  FieldFilterSchema,
  FilterSchema,
  FineGuidanceSensors,
  type GetEventsResponse,
  GetEventsResponseSchema,
  ProcessExecSchema,
  toJsonLine,
} from "@nsguard/sdk";
import { createFineGuidanceSensorsRoutes, EventHub, startServer } from "@nsguard/server";
import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
// The SDK's shared filter tables (test-only): the export must select and shape exactly as GetEvents.
import { fieldFilterCases, filterCases, filterEvents } from "../../../sdk/src/testing/filter-cases.js";
import { waitFor } from "../../../server/src/testing/wait-for.js";
import { registerExportMetrics } from "../metrics/metrics.js";
import { ManualTimers } from "../testing/manual-timers.js";
import { ExportFilterError } from "./export-filters.js";
import { JsonExporter, type JsonExporterOptions } from "./json-exporter.js";

function execEvent(i: number) {
  return create(GetEventsResponseSchema, {
    nodeName: "node-1",
    event: {
      case: "processExec",
      value: create(ProcessExecSchema, { process: { binary: `/bin/x${i}`, pid: i } }),
    },
  });
}

/** Every line of a file (gunzipped for .gz), each parsed: a torn or glued line fails here. */
function parsedLines(path: string): Record<string, unknown>[] {
  const data = path.endsWith(".gz") ? gunzipSync(readFileSync(path)) : readFileSync(path);
  const text = data.toString("utf8");
  if (text === "") return [];
  expect(text.endsWith("\n"), `${path} ends with a whole line`).toBe(true);
  return text
    .slice(0, -1)
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

const pidOf = (line: Record<string, unknown>) =>
  (line.process_exec as { process: { pid?: number } }).process.pid ?? 0;

describe("JsonExporter", () => {
  const dirs: string[] = [];
  const exporters: JsonExporter[] = [];
  afterEach(async () => {
    for (const e of exporters.splice(0)) await e.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  function scratch(): string {
    const dir = mkdtempSync(join(tmpdir(), "nsguard-export-"));
    dirs.push(dir);
    return dir;
  }
  async function start(hub: EventHub, options: Partial<JsonExporterOptions> & { filename: string }) {
    const exporter = await JsonExporter.start(hub, { nodeName: "node-1", ...options });
    exporters.push(exporter);
    return exporter;
  }
  async function settled(exporter: JsonExporter, events: number) {
    await waitFor(() => {
      const s = exporter.stats();
      return s.written + s.rateLimitDropped + s.filtered >= events;
    }, `${events} events to reach the export`);
    await exporter.flush();
  }

  it("writes one protojson line per published event, with Tetragon's snake_case names", async () => {
    const file = join(scratch(), "events.log");
    const hub = new EventHub();
    const exporter = await start(hub, { filename: file });
    for (let i = 1; i <= 3; i++) hub.publish(execEvent(i));
    await settled(exporter, 3);
    expect(parsedLines(file)).toEqual(
      [1, 2, 3].map((i) => ({
        process_exec: { process: { binary: `/bin/x${i}`, pid: i } },
        node_name: "node-1",
      })),
    );
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(exporter.stats()).toMatchObject({ written: 3, errors: 0, filtered: 0, rateLimitDropped: 0 });
    expect(exporter.stats().bytes).toBe(statSync(file).size);
  });

  it("rotates by size: at most max-backups old files, none over the size, every line whole, none lost in between", async () => {
    const dir = scratch();
    const file = join(dir, "events.log");
    const hub = new EventHub({ queueSize: 100000 });
    const maxSizeMb = 0.01; // 10485 bytes; each line is ~60
    const exporter = await start(hub, { filename: file, maxSizeMb, maxBackups: 3 });
    for (let i = 0; i < 2000; i++) hub.publish(execEvent(i)); // ~120 KB: about a dozen rotations
    await settled(exporter, 2000);
    expect(readdirSync(dir).sort()).toEqual(["events.log", "events.log.1", "events.log.2", "events.log.3"]);
    const files = ["events.log.3", "events.log.2", "events.log.1", "events.log"].map((n) => join(dir, n));
    const maxSize = maxSizeMb * 1024 * 1024;
    for (const f of files) expect(statSync(f).size).toBeLessThanOrEqual(maxSize);
    // Oldest backup to live file: consecutive pids, ending at the last event.
    const pids = files.flatMap((f) => parsedLines(f).map(pidOf));
    expect(pids).toEqual(Array.from({ length: pids.length }, (_, k) => 2000 - pids.length + k));
    // Each backup was rotated only when the next line (< 100 bytes) would not fit.
    for (const f of files.slice(0, 3)) expect(statSync(f).size).toBeGreaterThan(maxSize - 100);
  });

  it("gzips rotated files with the configured mode; the backups decompress to whole lines", async () => {
    const dir = scratch();
    const file = join(dir, "events.log");
    const hub = new EventHub({ queueSize: 100000 });
    const exporter = await start(hub, {
      filename: file,
      maxSizeMb: 0.01,
      maxBackups: 2,
      compress: true,
      mode: 0o640,
    });
    for (let i = 0; i < 1000; i++) hub.publish(execEvent(i));
    await settled(exporter, 1000);
    await exporter.close();
    expect(readdirSync(dir).sort()).toEqual(["events.log", "events.log.1.gz", "events.log.2.gz"]);
    for (const name of readdirSync(dir)) expect(statSync(join(dir, name)).mode & 0o777, name).toBe(0o640);
    const pids = ["events.log.2.gz", "events.log.1.gz", "events.log"].flatMap((n) =>
      parsedLines(join(dir, n)).map(pidOf),
    );
    expect(pids).toEqual(Array.from({ length: pids.length }, (_, k) => 1000 - pids.length + k));
  });

  it("rotates on --export-file-rotation-interval (even an idle file), keeping max-backups", async () => {
    const dir = scratch();
    const file = join(dir, "events.log");
    const hub = new EventHub();
    const timers = new ManualTimers();
    const exporter = await start(hub, { filename: file, rotationIntervalMs: 10_000, maxBackups: 2, timers });
    const batch = async (from: number) => {
      for (let i = from; i < from + 5; i++) hub.publish(execEvent(i));
      await settled(exporter, from + 5);
    };
    // A backup is missing for a moment while the files shift.
    const pidsIn = (name: string) =>
      existsSync(join(dir, name)) ? parsedLines(join(dir, name)).map(pidOf) : [-1];
    /** Advances one interval and waits for the files to hold these pids (rotation runs in the background). */
    const tick = async (expected: Record<string, number[]>) => {
      timers.advance(10_000);
      const matches = () =>
        Object.entries(expected).every(([n, p]) => JSON.stringify(pidsIn(n)) === JSON.stringify(p));
      await waitFor(matches, `files ${JSON.stringify(expected)}`);
      expect(readdirSync(dir).sort()).toEqual(Object.keys(expected).sort());
    };
    await batch(0);
    await tick({ "events.log": [], "events.log.1": [0, 1, 2, 3, 4] });
    await batch(5);
    await tick({ "events.log": [], "events.log.1": [5, 6, 7, 8, 9], "events.log.2": [0, 1, 2, 3, 4] });
    await batch(10);
    await tick({ "events.log": [], "events.log.1": [10, 11, 12, 13, 14], "events.log.2": [5, 6, 7, 8, 9] });
    // Idle: the empty live file rotates too (lumberjack's Rotate does not skip it).
    await tick({ "events.log": [], "events.log.1": [], "events.log.2": [10, 11, 12, 13, 14] });
  });

  it("cuts a torn last line left by a killed run before appending, so every line parses", async () => {
    const file = join(scratch(), "events.log");
    const whole = `${toJsonLine(execEvent(1))}\n${toJsonLine(execEvent(2))}\n`;
    writeFileSync(file, `${whole}{"process_exec":{"process":{"bin`);
    const warnings: string[] = [];
    const hub = new EventHub();
    const exporter = await start(hub, { filename: file, onError: (e) => warnings.push(e.message) });
    hub.publish(execEvent(3));
    await settled(exporter, 1);
    expect(parsedLines(file).map(pidOf)).toEqual([1, 2, 3]);
    expect(warnings).toEqual([expect.stringContaining("cut a torn last line (32 bytes)")]);
  });

  it("--export-rate-limit: drops over the limit and reports the exact count once a minute in rate_limit_info", async () => {
    const file = join(scratch(), "events.log");
    const hub = new EventHub();
    const timers = new ManualTimers(Date.UTC(2025, 0, 1));
    const exporter = await start(hub, { filename: file, rateLimit: 10, timers });
    for (let i = 0; i < 25; i++) hub.publish(execEvent(i));
    await settled(exporter, 25);
    expect(exporter.stats()).toMatchObject({ written: 10, rateLimitDropped: 15 });
    timers.advance(60_000); // the report, and a full bucket again
    for (let i = 25; i < 37; i++) hub.publish(execEvent(i));
    await settled(exporter, 37);
    timers.advance(30_000); // no tick yet
    timers.advance(30_000); // tick at 2 min: 2 dropped
    timers.advance(60_000); // tick at 3 min: nothing dropped, no report
    await exporter.flush();
    const lines = parsedLines(file);
    const reports = lines.filter((l) => "rate_limit_info" in l);
    expect(reports).toEqual([
      {
        rate_limit_info: { number_of_dropped_process_events: "15" },
        node_name: "node-1",
        time: "2025-01-01T00:01:00Z",
      },
      {
        rate_limit_info: { number_of_dropped_process_events: "2" },
        node_name: "node-1",
        time: "2025-01-01T00:02:00Z",
      },
    ]);
    // The first 10, the report, then 10 more of the second burst.
    expect(lines.map((l) => ("rate_limit_info" in l ? -1 : pidOf(l)))).toEqual([
      ...Array.from({ length: 10 }, (_, k) => k),
      -1,
      ...Array.from({ length: 10 }, (_, k) => 25 + k),
      -1,
    ]);
    expect(exporter.stats()).toMatchObject({ written: 20, rateLimitDropped: 17, rateLimitReports: 2 });
  });

  it("--export-rate-limit 0 exports nothing but the drop reports; -1 is unlimited", async () => {
    const dir = scratch();
    const hub = new EventHub();
    const timers = new ManualTimers();
    const none = await start(hub, { filename: join(dir, "none.log"), rateLimit: 0, timers });
    const all = await start(hub, { filename: join(dir, "all.log"), rateLimit: -1, timers });
    for (let i = 0; i < 50; i++) hub.publish(execEvent(i));
    await settled(none, 50);
    await settled(all, 50);
    timers.advance(60_000);
    await none.flush();
    expect(parsedLines(join(dir, "none.log"))).toEqual([
      expect.objectContaining({ rate_limit_info: { number_of_dropped_process_events: "50" } }),
    ]);
    expect(parsedLines(join(dir, "all.log"))).toHaveLength(50);
  });

  it("every shared Filter case selects the same events through --export-allowlist as through GetEvents", async () => {
    const dir = scratch();
    for (const [k, c] of filterCases.entries()) {
      const hub = new EventHub();
      const file = join(dir, `case-${k}.log`);
      // As a user writes it: one JSON object a line, snake_case names.
      const allowList = JSON.stringify(
        toJson(FilterSchema, create(FilterSchema, c.filter), { useProtoFieldName: true }),
      );
      const exporter = await start(hub, { filename: file, filters: { allowList } });
      const events = filterEvents();
      for (const [name] of c.expect) hub.publish(events[name]);
      await settled(exporter, c.expect.length);
      const wanted = c.expect
        .filter(([, m]) => m)
        .map(([name]) => JSON.parse(toJsonLine(filterEvents()[name])));
      expect(parsedLines(file), c.name).toEqual(wanted);
      expect(exporter.stats().filtered, c.name).toBe(c.expect.length - wanted.length);
    }
  });

  it("every shared FieldFilter case shapes events through --field-filters (snake_case paths) as through GetEvents", async () => {
    const dir = scratch();
    for (const [k, c] of fieldFilterCases.entries()) {
      const hub = new EventHub();
      const file = join(dir, `case-${k}.log`);
      const fieldFilters = c.fieldFilters
        .map((f) => {
          const json = toJson(FieldFilterSchema, create(FieldFilterSchema, f), {
            useProtoFieldName: true,
          }) as object;
          return JSON.stringify({ ...json, fields: (f.fields?.paths ?? []).join(",") });
        })
        .join("\n");
      const exporter = await start(hub, { filename: file, filters: { fieldFilters } });
      hub.publish(filterEvents()[c.event]);
      await settled(exporter, 1);
      expect(parsedLines(file), c.name).toEqual([c.json]);
    }
  });

  it("a bad filter line fails the start with ExportFilterError naming the flag, before any file exists", async () => {
    const dir = scratch();
    const hub = new EventHub();
    const bad: [JsonExporterOptions["filters"], RegExp][] = [
      [{ allowList: '{"event_set":["PROCESS_EXEC"]}\n{"binary_regex":["("]}' }, /binary_regex/],
      [{ denyList: "{not json" }, /--export-denylist/],
      [{ denyList: '{"no_such_field":1}' }, /--export-denylist/],
      [{ fieldFilters: '{"fields":"process.no_such_field","action":"INCLUDE"}' }, /field_filters/],
    ];
    for (const [filters, message] of bad) {
      const failed = JsonExporter.start(hub, { filename: join(dir, "x.log"), nodeName: "n", filters });
      await expect(failed).rejects.toThrow(ExportFilterError);
      await expect(failed).rejects.toThrow(message);
    }
    expect(readdirSync(dir)).toEqual([]);
    expect(hub.subscriberCount).toBe(0);
  });

  it("export filters never change what a gRPC GetEvents stream on the same hub receives", async () => {
    // A real gRPC server on the hub the export listens to, as in the agent.
    const hub = new EventHub();
    const server = await startServer({
      routes: createFineGuidanceSensorsRoutes({ events: hub, version: "test" }),
      getEvents: { source: hub },
      tcpAddress: "127.0.0.1:0",
      unixSocket: "",
    });
    try {
      const file = join(scratch(), "events.log");
      // Deny every exec and shape what is left; the gRPC client asks for nothing of the kind.
      const exporter = await start(hub, {
        filename: file,
        filters: {
          denyList: '{"event_set":["PROCESS_EXEC"]}',
          fieldFilters: '{"fields":"process.binary","action":"INCLUDE"}',
        },
      });
      const port = server.addresses.tcp?.port;
      const client = createClient(
        FineGuidanceSensors,
        createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` }),
      );
      const abort = new AbortController();
      const received: GetEventsResponse[] = [];
      const stream = (async () => {
        for await (const e of client.getEvents({}, { signal: abort.signal })) received.push(e);
      })().catch(() => undefined);
      await waitFor(() => hub.subscriberCount === 2, "the gRPC stream to subscribe");
      const events = filterEvents();
      const published = [events.seed, events.hostExec, events.exitEvent, events.probeExec];
      for (const e of published) hub.publish(e);
      await waitFor(() => received.length === published.length, "the gRPC stream to get every event");
      await settled(exporter, published.length);
      abort.abort();
      await stream;
      // gRPC: every event, whole.
      expect(received.map(toJsonLine)).toEqual(published.map(toJsonLine));
      // Export: no execs, only process.binary of the rest.
      expect(parsedLines(file)).toEqual([
        {
          process_kprobe: { process: { binary: "/usr/bin/nsenter" } },
          node_name: "tetragon-dev-control-plane",
          time: expect.any(String),
        },
        { process_exit: { process: { binary: "/usr/bin/ls" } } },
      ]);
      expect(exporter.stats()).toMatchObject({ written: 2, filtered: 2 });
    } finally {
      await server.close();
    }
  });

  it("its counters reach /metrics: lines written, bytes, rate-limited, filtered, errors", async () => {
    const file = join(scratch(), "events.log");
    const hub = new EventHub();
    const exporter = await start(hub, {
      filename: file,
      rateLimit: 5,
      timers: new ManualTimers(),
      filters: { denyList: '{"binary_regex":["x1"]}' },
    });
    for (let i = 0; i < 12; i++) hub.publish(execEvent(i)); // x1, x10, x11 denied; 4 of the other 9 over the limit
    await settled(exporter, 12);
    const registry = new Registry();
    registerExportMetrics(registry, () => exporter.stats());
    const text = await registry.metrics();
    expect(text).toContain("nsguard_events_exported_total 5");
    expect(text).toContain(`nsguard_events_exported_bytes_total ${statSync(file).size}`);
    expect(text).toContain("nsguard_export_ratelimit_events_dropped_total 4");
    expect(text).toContain("nsguard_export_filtered_events_total 3");
    expect(text).toContain("nsguard_events_export_failed_total 0");
  });
});
