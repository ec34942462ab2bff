import { existsSync } from "node:fs";
import { toJsonLine } from "@nsguard/sdk";
import { afterEach, describe, expect, it, vi } from "vitest";
import { main } from "./main.js";
import type { CaptureOptions } from "./testing/capture-io.js";
import { captureIo } from "./testing/capture-io.js";
import { setnsEvent } from "./testing/events.js";
import { unusedAddress } from "./testing/unused-address.js";

// The `nsguard agent` command with runAgent mocked; the client commands are tested against a
// real server in client-commands.test.ts.

const agentModule = vi.hoisted(() => ({ loads: 0 }));
const runAgent = vi.fn(async () => 7);
vi.mock("@nsguard/agent", () => {
  agentModule.loads++;
  return { runAgent };
});

const run = async (args: string[], options: CaptureOptions = {}) => {
  const io = captureIo(options);
  const code = await main(["node", "nsguard", ...args], io);
  return { code, out: io.out(), err: io.err() };
};

describe("nsguard agent", () => {
  it("is never loaded by the client commands", async () => {
    await run(["version", "--server-address", await unusedAddress(), "--retries", "0"]);
    await run(["getevents", "-o", "compact"], { stdin: `${toJsonLine(setnsEvent)}\n` });
    await run(["tp", "list", "--server-address", await unusedAddress(), "--retries", "0"]);
    expect(agentModule.loads).toBe(0);
  });

  afterEach(() => runAgent.mockClear());

  it("passes AgentOptions to runAgent and exits with its code", async () => {
    const r = await run([
      "agent",
      "--tracing-policy",
      "a.yaml",
      "--tracing-policy",
      "b.yaml",
      "--server-address",
      "",
      "--node-name",
      "node-7",
      "--event-queue-size",
      "500",
      "--event-queue-bytes",
      "1048576",
      "--export-filename",
      "/var/log/nsguard.log",
      "--export-file-max-size-mb",
      "20",
      "--export-file-rotation-interval",
      "1h30m",
      "--export-file-max-backups",
      "0",
      "--export-file-compress",
      "--export-file-perm",
      "0640",
      "--export-rate-limit",
      "100",
      "--export-allowlist",
      '{"event_set":["PROCESS_KPROBE"]}',
      "--export-denylist",
      '{"namespace":["kube-system"]}',
      "--field-filters",
      '{"fields":"process.binary","action":"INCLUDE"}',
      "--log-level",
      "debug",
      "--enable-process-ns",
      "--enable-process-cred",
      "--metrics-label-filter",
      "pod, binary",
      "--metrics-max-label-sets",
      "100",
      "--health-server-address",
      "",
      "--info-file",
      "/tmp/nsguard-info.json",
    ]);
    expect(r.code).toBe(7);
    expect(runAgent).toHaveBeenCalledWith({
      tracingPolicies: ["a.yaml", "b.yaml"],
      serverAddress: "",
      serverSocket: "/var/run/nsguard/nsguard.sock",
      nodeName: "node-7",
      eventQueueSize: 500,
      eventQueueBytes: 1048576,
      exportFilename: "/var/log/nsguard.log",
      exportFileMaxSizeMb: 20,
      exportFileRotationIntervalMs: 5_400_000,
      exportFileMaxBackups: 0,
      exportFileCompress: true,
      exportFilePerm: 0o640,
      exportRateLimit: 100,
      exportAllowlist: '{"event_set":["PROCESS_KPROBE"]}',
      exportDenylist: '{"namespace":["kube-system"]}',
      fieldFilters: '{"fields":"process.binary","action":"INCLUDE"}',
      logLevel: "debug",
      enableProcessNs: true,
      enableProcessCred: true,
      metricsLabelFilter: ["pod", "binary"],
      metricsMaxLabelSets: 100,
      infoFile: "/tmp/nsguard-info.json",
      reloadLogLevel: expect.any(Function),
    });
  });

  it("uses tetra-like defaults", async () => {
    await run(["agent"]);
    expect(runAgent).toHaveBeenCalledWith({
      tracingPolicies: [],
      serverAddress: "localhost:54321",
      serverSocket: "/var/run/nsguard/nsguard.sock",
      eventQueueSize: 10000,
      logLevel: "info",
      // Tetragon's export defaults (they matter only with --export-filename).
      exportFileMaxSizeMb: 10,
      exportFileRotationIntervalMs: 0,
      exportFileMaxBackups: 5,
      exportFileCompress: false,
      exportFilePerm: 0o600,
      exportRateLimit: -1,
      // podman's own default socket is used when this host has one.
      ...(existsSync("/run/podman/podman.sock") ? { podmanSocket: "/run/podman/podman.sock" } : {}),
      // containerd's socket likewise, where a containerd without the CRI plugin is skipped.
      ...(existsSync("/run/containerd/containerd.sock")
        ? { criEndpoint: "/run/containerd/containerd.sock", criEndpointDiscovered: true }
        : {}),
      enableProcessNs: false,
      enableProcessCred: false,
      // Tetragon's --metrics-label-filter default; probes on loopback only.
      metricsLabelFilter: ["namespace", "workload", "pod", "binary"],
      metricsMaxLabelSets: 4096,
      healthServerAddress: "127.0.0.1:6789",
      infoFile: "/var/run/nsguard/nsguard-info.json",
      reloadLogLevel: expect.any(Function),
    });
  });

  it("refuses an unknown --metrics-label-filter label in one line, before starting anything", async () => {
    const r = await run(["agent", "--metrics-label-filter", "pod,container"]);
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      'nsguard agent: --metrics-label-filter: unknown label "container" (allowed: namespace,workload,pod,binary)\n',
    );
    expect(runAgent).not.toHaveBeenCalled();
  });

  it("--cri-endpoint names the CRI endpoint, which must answer; an empty one turns the CRI off", async () => {
    await run(["agent", "--cri-endpoint", "unix:///tmp/c.sock"]);
    expect(runAgent).toHaveBeenLastCalledWith(expect.objectContaining({ criEndpoint: "unix:///tmp/c.sock" }));
    expect(runAgent).toHaveBeenLastCalledWith(
      expect.not.objectContaining({ criEndpointDiscovered: expect.anything() }),
    );
    await run(["agent", "--cri-endpoint", ""]);
    expect(runAgent).toHaveBeenLastCalledWith(
      expect.not.objectContaining({ criEndpoint: expect.anything() }),
    );
  });

  it("--podman-socket names the podman API socket; an empty one turns podman off", async () => {
    await run(["agent", "--podman-socket", "/tmp/p.sock"]);
    expect(runAgent).toHaveBeenLastCalledWith(expect.objectContaining({ podmanSocket: "/tmp/p.sock" }));
    await run(["agent", "--podman-socket", ""]);
    expect(runAgent).toHaveBeenLastCalledWith(
      expect.not.objectContaining({ podmanSocket: expect.anything() }),
    );
  });
});
