import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AgentOptions } from "@nsguard/agent";
import { Command } from "commander";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { addConfigSources } from "./agent-config.js";
import { parseCount } from "./list-option.js";
import { main } from "./main.js";
import type { CaptureOptions } from "./testing/capture-io.js";
import { captureIo } from "./testing/capture-io.js";

// `nsguard agent` settings from flags, NSGUARD_* variables, --config-dir and --config-file,
// through the real CLI entry. --print-config shows what runAgent would get; runAgent is mocked
// only where a test needs the options object itself (its SIGHUP reload function).

const runAgent = vi.fn(async (_options: AgentOptions) => 0);
vi.mock("@nsguard/agent", () => ({ runAgent }));
afterEach(() => runAgent.mockClear());

const scratch = mkdtempSync(join(tmpdir(), "nsguard-cli-config-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let n = 0;
const fresh = (name: string) => join(scratch, `${n++}-${name}`);

const run = async (args: string[], options: CaptureOptions = {}) => {
  const io = captureIo(options);
  const code = await main(["node", "nsguard", "agent", ...args], io);
  return { code, out: io.out(), err: io.err() };
};

/** The resolved settings as `--print-config` prints them. */
async function printed(args: string[], options: CaptureOptions = {}): Promise<Record<string, unknown>> {
  const r = await run([...args, "--print-config"], options);
  expect(r.err).toBe("");
  expect(r.code).toBe(0);
  return JSON.parse(r.out) as Record<string, unknown>;
}

/** One setting per kind of flag: repeatable, comma list, choices, counts, booleans, "" values. */
const SETTINGS: Record<string, string | boolean | string[]> = {
  "tracing-policy": ["/etc/nsguard/a.yaml", "/etc/nsguard/b.yaml"],
  "server-address": "",
  "server-socket": "/run/x/nsguard.sock",
  "server-socket-group": "0",
  "server-tls-cert-file": "/pki/cert.pem",
  "server-tls-key-file": "/pki/key.pem",
  "server-tls-client-ca-files": ["/pki/ca1.pem", "/pki/ca2.pem"],
  "server-tls-require-client-cert": true,
  "node-name": "node-7",
  "event-queue-size": "500",
  "event-queue-bytes": "1048576",
  "export-filename": "/var/log/nsguard/events.log",
  "pod-info-file": "/etc/nsguard/pods.json",
  "podman-socket": "",
  "cri-endpoint": "unix:///run/k3s/containerd.sock",
  "enable-k8s-api": true,
  "k8s-kubeconfig-path": "/etc/kube/config",
  "metrics-server": ":2112",
  "enable-process-ns": true,
  "enable-process-cred": true,
  "log-level": "debug",
};

const asFlags = (settings: typeof SETTINGS): string[] =>
  Object.entries(settings).flatMap(([key, value]) => {
    if (typeof value === "boolean") return value ? [`--${key}`] : [];
    return (Array.isArray(value) ? value : [value]).flatMap((v) => [`--${key}`, v]);
  });
const asText = (value: string | boolean | string[]) =>
  Array.isArray(value) ? value.join("\n") : String(value);
const asEnv = (settings: typeof SETTINGS) =>
  Object.fromEntries(
    Object.entries(settings).map(([key, value]) => [
      `NSGUARD_${key.toUpperCase().replace(/-/g, "_")}`,
      asText(value),
    ]),
  );
function asDir(settings: typeof SETTINGS): string {
  const dir = fresh("conf.d");
  mkdirSync(dir);
  for (const [key, value] of Object.entries(settings)) writeFileSync(join(dir, key), `${asText(value)}\n`);
  return dir;
}
function asFile(settings: typeof SETTINGS): string {
  const file = fresh("nsguard.yaml");
  const lines = Object.entries(settings).map(([key, value]) =>
    Array.isArray(value)
      ? `${key}:\n${value.map((v) => `  - ${JSON.stringify(v)}`).join("\n")}`
      : `${key}: ${typeof value === "boolean" ? value : JSON.stringify(value)}`,
  );
  writeFileSync(file, `# every setting once\n${lines.join("\n")}\n`);
  return file;
}

describe("nsguard agent settings", () => {
  it("flags, environment variables, a config dir and a config file give the same AgentOptions", async () => {
    const fromFlags = await printed(asFlags(SETTINGS));
    expect(fromFlags).toEqual({
      tracingPolicies: ["/etc/nsguard/a.yaml", "/etc/nsguard/b.yaml"],
      serverAddress: "",
      serverSocket: "/run/x/nsguard.sock",
      serverSocketGroup: 0,
      serverTls: {
        certFile: "/pki/cert.pem",
        keyFile: "/pki/key.pem",
        clientCaFiles: ["/pki/ca1.pem", "/pki/ca2.pem"],
        requireClientCert: true,
      },
      nodeName: "node-7",
      eventQueueSize: 500,
      eventQueueBytes: 1048576,
      exportFilename: "/var/log/nsguard/events.log",
      podInfoFile: "/etc/nsguard/pods.json",
      criEndpoint: "unix:///run/k3s/containerd.sock",
      kubernetes: { kubeconfig: "/etc/kube/config" },
      metricsServer: ":2112",
      enableProcessNs: true,
      enableProcessCred: true,
      logLevel: "debug",
      infoFile: "/var/run/nsguard/nsguard-info.json",
      // Defaults of the settings SETTINGS leaves alone.
      exportFileCompress: false,
      exportFileMaxBackups: 5,
      exportFileMaxSizeMb: 10,
      exportFilePerm: 0o600,
      exportFileRotationIntervalMs: 0,
      exportRateLimit: -1,
      healthServerAddress: "127.0.0.1:6789",
      metricsLabelFilter: ["namespace", "workload", "pod", "binary"],
      metricsMaxLabelSets: 4096,
    });
    expect(await printed([], { env: asEnv(SETTINGS) })).toEqual(fromFlags);
    expect(await printed(["--config-dir", asDir(SETTINGS)])).toEqual(fromFlags);
    expect(await printed(["--config-file", asFile(SETTINGS)])).toEqual(fromFlags);
    // The locations themselves may come from the environment, and default ones are read when present.
    expect(await printed([], { env: { NSGUARD_CONFIG_FILE: asFile(SETTINGS) } })).toEqual(fromFlags);
    expect(
      await printed([], { agentConfigDefaults: { file: asFile(SETTINGS), dir: "/nonexistent" } }),
    ).toEqual(fromFlags);
    expect(
      await printed([], { agentConfigDefaults: { file: "/nonexistent", dir: asDir(SETTINGS) } }),
    ).toEqual(fromFlags);
  });

  it("a flag added later with a plain .option() is a setting from every source, with its parser", async () => {
    const parse = async (args: string[], env: Record<string, string>) => {
      let seen: Record<string, unknown> = {};
      const command = new Command("agent")
        .exitOverride()
        .option(
          "--export-file-max-size-mb <n>",
          "rotate at this size",
          parseCount("--export-file-max-size-mb"),
          10,
        )
        .option("--export-allowlist <json>", "only these events")
        .option("--enable-health", "serve /healthz")
        .action((opts: Record<string, unknown>) => {
          seen = opts;
        });
      addConfigSources(command, captureIo({ env }), { file: "/nonexistent", dir: "/nonexistent" });
      await command.parseAsync(args, { from: "user" });
      return seen;
    };
    const dir = asDir({ "export-allowlist": '{"event_set":["PROCESS_KPROBE"]}' });
    expect(
      await parse(["--config-dir", dir], {
        NSGUARD_EXPORT_FILE_MAX_SIZE_MB: "20",
        NSGUARD_ENABLE_HEALTH: "true",
      }),
    ).toMatchObject({
      exportFileMaxSizeMb: 20,
      exportAllowlist: '{"event_set":["PROCESS_KPROBE"]}',
      enableHealth: true,
    });
    await expect(parse([], { NSGUARD_EXPORT_FILE_MAX_SIZE_MB: "big" })).rejects.toThrow(
      'environment variable NSGUARD_EXPORT_FILE_MAX_SIZE_MB: --export-file-max-size-mb must be a non-negative integer, got "big"',
    );
  });

  it("precedence: flag > environment > config dir > config file > default", async () => {
    const file = asFile({ "export-filename": "/from/file", "node-name": "file-node", "log-level": "warn" });
    const dir = asDir({ "export-filename": "/from/dir", "node-name": "dir-node" });
    const env = { NSGUARD_EXPORT_FILENAME: "/from/env" };
    const both = ["--config-file", file, "--config-dir", dir];
    const all = await printed([...both, "--export-filename", "/from/flag"], { env });
    expect([all.exportFilename, all.nodeName, all.logLevel, all.eventQueueSize]).toEqual([
      "/from/flag",
      "dir-node",
      "warn",
      10000,
    ]);
    expect((await printed(both, { env })).exportFilename).toBe("/from/env");
    expect((await printed(both)).exportFilename).toBe("/from/dir");
    expect((await printed(["--config-file", file])).exportFilename).toBe("/from/file");
    expect((await printed([])).exportFilename).toBeUndefined();
    // A --config-file flag beats NSGUARD_CONFIG_FILE; "" turns the (default) file off.
    expect(
      (await printed(["--config-file", file], { env: { NSGUARD_CONFIG_FILE: "/nonexistent" } })).nodeName,
    ).toBe("file-node");
    const defaults = { file, dir: "/nonexistent" };
    expect((await printed([], { agentConfigDefaults: defaults })).nodeName).toBe("file-node");
    expect(
      (await printed(["--config-file", ""], { agentConfigDefaults: defaults })).nodeName,
    ).toBeUndefined();
  });

  it("a setting comes whole from one source: a list flag replaces the file's list; false overrides true", async () => {
    const file = asFile({ "tracing-policy": ["/a.yaml", "/b.yaml"], "enable-process-ns": true });
    const r = await printed(["--config-file", file, "--tracing-policy", "/c.yaml"], {
      env: { NSGUARD_ENABLE_PROCESS_NS: "false" },
    });
    expect(r.tracingPolicies).toEqual(["/c.yaml"]);
    expect(r.enableProcessNs).toBe(false);
    // A comma-list flag splits each line on commas, as on the command line.
    const env = { NSGUARD_SERVER_TLS_CLIENT_CA_FILES: "/a.pem,/b.pem\n/c.pem" };
    const tls = await printed(["--server-tls-cert-file", "c", "--server-tls-key-file", "k"], { env });
    expect((tls.serverTls as { clientCaFiles: string[] }).clientCaFiles).toEqual([
      "/a.pem",
      "/b.pem",
      "/c.pem",
    ]);
  });

  it("reads a Kubernetes ConfigMap mount (keys are symlinks into ..data)", async () => {
    const dir = fresh("configmap");
    const data = join(dir, "..2026_01_01_00_00_00.000000000");
    mkdirSync(data, { recursive: true });
    writeFileSync(join(data, "export-filename"), "/var/log/cm.log");
    writeFileSync(join(data, "enable-process-cred"), "true");
    symlinkSync("..2026_01_01_00_00_00.000000000", join(dir, "..data"));
    symlinkSync("..data/export-filename", join(dir, "export-filename"));
    symlinkSync("..data/enable-process-cred", join(dir, "enable-process-cred"));
    const r = await printed(["--config-dir", dir]);
    expect([r.exportFilename, r.enableProcessCred]).toEqual(["/var/log/cm.log", true]);
  });

  describe("a bad setting is one line naming the key and its source, and nothing starts", () => {
    const cases: [string, () => [string[], CaptureOptions], RegExp][] = [
      [
        "an unknown key in the config file",
        () => [["--config-file", asFile({ "export-filenme": "/x" })], {}],
        /^nsguard: config file \S+nsguard\.yaml: unknown key "export-filenme" \(did you mean "export-filename"\?\)$/,
      ],
      [
        "an unknown file in the config dir",
        () => [["--config-dir", asDir({ "log-levle": "debug" })], {}],
        /^nsguard: config dir \S+conf\.d: unknown key "log-levle" \(did you mean "log-level"\?\)$/,
      ],
      [
        "a count that is not a number, from the environment",
        () => [[], { env: { NSGUARD_EVENT_QUEUE_SIZE: "lots" } }],
        /^nsguard: environment variable NSGUARD_EVENT_QUEUE_SIZE: --event-queue-size must be a non-negative integer, got "lots"$/,
      ],
      [
        "a level outside the choices, from the config dir",
        () => [["--config-dir", asDir({ "log-level": "verbose" })], {}],
        /^nsguard: config dir \S+: log-level: "verbose" is invalid\. Allowed choices are trace, debug, info, warn, error, fatal\.$/,
      ],
      [
        "a boolean that is not true/false, from the config file",
        () => [["--config-file", asFile({ "enable-process-ns": "yes" })], {}],
        /^nsguard: config file \S+: enable-process-ns: must be true or false, got "yes"$/,
      ],
      [
        "a list where one value belongs",
        () => [["--config-file", asFile({ "node-name": ["a", "b"] })], {}],
        /^nsguard: config file \S+: node-name: must be a single value, got \["a","b"\]$/,
      ],
      [
        "a config file that does not exist",
        () => [[], { env: { NSGUARD_CONFIG_FILE: "/nonexistent/nsguard.yaml" } }],
        /^nsguard: config file \/nonexistent\/nsguard\.yaml: ENOENT$/,
      ],
      [
        "YAML that does not parse",
        () => {
          const file = fresh("broken.yaml");
          writeFileSync(file, "export-filename: [unclosed\n");
          return [["--config-file", file], {}];
        },
        /^nsguard: config file \S+broken\.yaml: /,
      ],
      [
        "a config location inside a config file",
        () => [["--config-file", asFile({ "config-dir": "/etc" })], {}],
        /^nsguard: config file \S+: "config-dir" can only be given as a flag or environment variable$/,
      ],
    ];
    for (const [name, setup, pattern] of cases) {
      it(name, async () => {
        const [args, options] = setup();
        for (const extra of [[], ["--print-config"]]) {
          const r = await run([...args, ...extra], options);
          expect(r.code).toBe(1);
          expect(r.out).toBe("");
          expect(r.err.split("\n")).toEqual([expect.stringMatching(pattern), ""]);
        }
        expect(runAgent).not.toHaveBeenCalled();
      });
    }
  });

  it("warns about an NSGUARD_ variable that looks like a misspelt setting, and ignores others", async () => {
    const r = await run(["--print-config"], {
      env: { NSGUARD_EXPORT_FILENAM: "/x", NSGUARD_SERVER_ADDRES: "", NSGUARD_BUILD_FLAVOUR: "1" },
    });
    expect(r.code).toBe(0);
    expect(r.err.split("\n").sort()).toEqual([
      "",
      "nsguard agent: warning: environment variable NSGUARD_EXPORT_FILENAM is not a setting (did you mean NSGUARD_EXPORT_FILENAME?)",
      "nsguard agent: warning: environment variable NSGUARD_SERVER_ADDRES is not a setting (did you mean NSGUARD_SERVER_ADDRESS?)",
    ]);
  });

  it("SIGHUP's reload reads the log level from the config files as they are now; a flag keeps its level", async () => {
    const dir = asDir({ "log-level": "info" });
    expect(await run(["--config-dir", dir])).toMatchObject({ code: 0, err: "" });
    const reload = runAgent.mock.calls[0]?.[0].reloadLogLevel;
    if (reload === undefined) throw new Error("runAgent got no reloadLogLevel");
    expect(reload()).toBe("info");
    writeFileSync(join(dir, "log-level"), "debug\n");
    expect(reload()).toBe("debug");
    rmSync(join(dir, "log-level"));
    expect(reload()).toBe("info"); // the default again
    writeFileSync(join(dir, "log-level"), "loud");
    expect(() => reload()).toThrow(/^config dir \S+: log-level: "loud" is invalid\. Allowed choices are /);

    writeFileSync(join(dir, "log-level"), "debug");
    await run(["--config-dir", dir, "--log-level", "error"]);
    expect(runAgent.mock.calls[1]?.[0].reloadLogLevel?.()).toBe("error");
  });

  it("the README's settings table is the one --generate-docs prints (run scripts/agent-settings-table.mjs)", async () => {
    const readme = readFileSync(new URL("../../../README.md", import.meta.url), "utf8");
    const section = /<!-- agent-settings:begin -->\n([\s\S]*?)\n<!-- agent-settings:end -->/.exec(readme);
    expect(section, "README.md has no agent-settings section").not.toBeNull();
    const r = await run(["--generate-docs"]);
    expect(r.code).toBe(0);
    // Cell padding is the formatter's (biome aligns markdown tables); the cells are the contract.
    const cells = (table: string) =>
      table.split("\n").map((row) =>
        row
          .split("|")
          .map((cell) => cell.trim().replace(/^-+$/, "-"))
          .join("|"),
      );
    expect(cells(section?.[1] ?? "")).toEqual(cells(r.out.trimEnd()));
  });
});
