import { create } from "@bufbuild/protobuf";
import { type GetEventsResponse, GetEventsResponseSchema, KprobeAction } from "@nsguard/sdk";
import {
  createFineGuidanceSensorsRoutes,
  EventHub,
  type RunningServer,
  type StartServerOptions,
  startServer,
} from "@nsguard/server";

type Fallback = NonNullable<StartServerOptions["adapterOptions"]>["fallback"];

/** A real @nsguard/server on 127.0.0.1, fed by a real EventHub, as the agent runs it. */
export interface TestAgent {
  hub: EventHub;
  server: RunningServer;
  port: number;
  /** `http://127.0.0.1:port`, for web transports. */
  url: string;
  /** `127.0.0.1:port`, for createNsguardClient. */
  address: string;
  close(): Promise<void>;
}

/**
 * Starts the server with the agent's wiring (routes + the gRPC GetEvents fast path) on `port`
 * (0: any free port). `fallback` answers requests that are not RPCs (the browser test's page).
 */
export async function startTestAgent(
  options: { port?: number; fallback?: Fallback } = {},
): Promise<TestAgent> {
  const hub = new EventHub();
  const server = await startServer({
    routes: createFineGuidanceSensorsRoutes({ events: hub, version: "v0.0.0-sdk-e2e" }),
    getEvents: { source: hub },
    tcpAddress: `127.0.0.1:${options.port ?? 0}`,
    adapterOptions: options.fallback === undefined ? undefined : { fallback: options.fallback },
    onError: () => {},
  });
  const port = server.addresses.tcp?.port ?? 0;
  return {
    hub,
    server,
    port,
    url: `http://127.0.0.1:${port}`,
    address: `127.0.0.1:${port}`,
    close: () => server.close({ graceMs: 100 }),
  };
}

/** A setns kprobe event of the namespace-access policy, from `binary` in pod `pod` (or the host). */
export function kprobeEvent(binary: string, pod?: { namespace: string; name: string }): GetEventsResponse {
  return create(GetEventsResponseSchema, {
    event: {
      case: "processKprobe",
      value: {
        process: { pid: 4242, binary, arguments: "--target 1 --mount -- sh", pod },
        functionName: "__x64_sys_setns",
        policyName: "namespace-access",
        action: KprobeAction.POST,
      },
    },
    nodeName: "sdk-e2e-node",
  });
}

/**
 * Polls `condition` until it holds: a wait for the other side of a socket (a client
 * subscribing), not a timing assertion; the limit only turns a hang into a readable failure.
 */
export async function waitFor(condition: () => boolean, what: string, limitMs = 20_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
