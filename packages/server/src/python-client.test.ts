import { spawn } from "node:child_process";
import { toJsonLine } from "@nsguard/sdk";
import { afterEach, describe, expect, it } from "vitest";
import { sampleExecEvent, sampleKprobeEvent } from "./testing/events.js";
import { startTestServer, type TestServer } from "./testing/test-server.js";

// examples/python-client/getevents.py: another language's gRPC (grpcio, the C core) streaming
// GetEvents with a schema built from proto/, as an existing Tetragon client would. Its JSON must
// be ours, field for field.
const script = new URL("../../../examples/python-client/getevents.py", import.meta.url).pathname;

describe("the Python gRPC client example", () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.close();
  });

  it("streams filtered events whose JSON equals ours", async () => {
    server = await startTestServer();
    const kprobe = sampleKprobeEvent(7, { namespace: "default" });
    const python = spawn(
      "/usr/bin/python3",
      [
        script,
        "--address",
        server.url.replace("http://", ""),
        "--max-events",
        "2",
        "--policy",
        "namespace-access",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    let err = "";
    python.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    python.stderr.on("data", (d: Buffer) => {
      err += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => python.on("close", resolve));
    // Publish until the client has connected and taken two kprobe events (exec events are
    // filtered out by its allow list on the server).
    const hub = server.hub;
    const ticker = setInterval(() => {
      hub.publish(sampleExecEvent(1));
      hub.publish(kprobe);
    }, 50);
    const code = await exited.finally(() => clearInterval(ticker));
    expect(err).toBe("");
    expect(code).toBe(0);
    const lines = out.trim().split("\n");
    expect(lines).toHaveLength(2);
    for (const line of lines) expect(JSON.parse(line)).toEqual(JSON.parse(toJsonLine(kprobe)));
  }, 60_000);
});
