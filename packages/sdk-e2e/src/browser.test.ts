import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import {
  createNsguardClient,
  EventType,
  filter,
  type GetEventsResponse,
  streamEvents,
  toJsonLine,
} from "@nsguard/sdk";
import type { NodeHandlerFn } from "@nsguard/server";
import { build } from "esbuild";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kprobeEvent, startTestAgent, type TestAgent, waitFor } from "./agent.js";
import type {} from "./page-report.js";

// Debian's chromium (scripts/bootstrap.sh installs it); playwright-core brings no browser.
const CHROMIUM = "/usr/bin/chromium";
const PYTHON_CLIENT = fileURLToPath(new URL("../../../examples/python-client/getevents.py", import.meta.url));

describe("the browser entry in Chromium, over gRPC-Web and Connect", () => {
  let agent: TestAgent;
  let browser: Browser;

  beforeAll(async () => {
    const bundle = await build({
      entryPoints: [fileURLToPath(new URL("./browser-page.ts", import.meta.url))],
      bundle: true,
      platform: "browser", // resolves @nsguard/sdk through its "browser" condition
      format: "esm",
      write: false,
      logLevel: "silent",
    });
    const script = bundle.outputFiles[0]?.text ?? "";
    const html = '<!doctype html><meta charset="utf-8"><script type="module" src="/page.js"></script>';
    // The page comes from the agent's own origin (the server's fallback for non-RPC paths),
    // so the RPCs are same-origin and need no CORS.
    const fallback: NodeHandlerFn = (req, res) => {
      const [type, body] = req.url === "/page.js" ? ["text/javascript", script] : ["text/html", html];
      res.writeHead(200, { "content-type": type });
      res.end(body);
    };
    agent = await startTestAgent({ fallback });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--headless=new"] });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await agent?.close();
  });

  it("receives the event the server publishes, filtered by the server — the same event the Python gRPC client and the Node SDK get", async () => {
    // Python (grpcio, the C core: another language over gRPC) takes both events of the policy.
    const python = spawn(
      "/usr/bin/python3",
      [
        PYTHON_CLIENT,
        "--address",
        agent.url.replace("http://", ""),
        "--max-events",
        "2",
        "--policy",
        "namespace-access",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let pythonOut = "";
    python.stdout.on("data", (d: Buffer) => {
      pythonOut += d.toString();
    });
    const pythonDone = new Promise<number | null>((resolve) => python.on("close", resolve));
    // The Node SDK over gRPC, with the browser page's filter.
    const abort = new AbortController();
    const nodeReceived: GetEventsResponse[] = [];
    const request = { allowList: [filter().eventTypes(EventType.PROCESS_KPROBE).podRegex("^web-").build()] };
    const nodeDone = (async () => {
      for await (const ev of streamEvents(createNsguardClient(agent.url), request, {
        signal: abort.signal,
      })) {
        nodeReceived.push(ev);
        abort.abort();
      }
    })();

    const page = await browser.newPage();
    const consoleErrors: string[] = [];
    page.on("pageerror", (e) => consoleErrors.push(String(e)));
    await page.goto(`${agent.url}/`);
    await waitFor(
      () => agent.hub.subscriberCount === 4,
      "the browser's, Python's and the SDK's streams",
      30_000,
    );
    const web = kprobeEvent("/usr/bin/nsenter", { namespace: "default", name: "web-1" });
    agent.hub.publish(kprobeEvent("/usr/bin/nsenter", { namespace: "default", name: "db-0" })); // filtered out
    agent.hub.publish(web);
    await nodeDone;
    expect(await pythonDone).toBe(0);
    expect(nodeReceived.map((ev) => toJsonLine(ev))).toEqual([toJsonLine(web)]);
    expect(JSON.parse(pythonOut.trim().split("\n")[1] ?? "null")).toEqual(JSON.parse(toJsonLine(web)));
    await page.waitForFunction(
      () => window.nsguardReceived.length + window.nsguardErrors.length >= 2,
      undefined,
      {
        timeout: 30_000,
      },
    );
    const report = await page.evaluate(() => ({
      received: window.nsguardReceived,
      errors: window.nsguardErrors,
    }));
    expect(consoleErrors).toEqual([]);
    expect(report.errors).toEqual([]);
    expect(report.received.sort((a, b) => a.protocol.localeCompare(b.protocol))).toEqual([
      { protocol: "connect", binary: "/usr/bin/nsenter", pod: "web-1" },
      { protocol: "grpc-web", binary: "/usr/bin/nsenter", pod: "web-1" },
    ]);
    // Leaving the loops cancels both calls: the server sees the browser go.
    await waitFor(() => agent.hub.subscriberCount === 0, "the browser streams to end");
  }, 90_000);
});
