import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { GetEventsResponse, TracingPolicyStatus } from "@nsguard/sdk";
import {
  compileFieldFilters,
  compileFilters,
  FilterError,
  FineGuidanceSensors,
  HealthStatusResult,
  HealthStatusType,
  TracingPolicyStatusSchema,
} from "@nsguard/sdk";

export interface FakeAgentOptions {
  events: GetEventsResponse[];
  /** Keep the stream open after the last event until the client goes away. */
  hold?: boolean;
  policies?: TracingPolicyStatus[];
}

export interface FakeAgent {
  address: string;
  addedYaml: string[];
  deleted: string[];
  close(): Promise<void>;
}

/**
 * A real gRPC server (HTTP/2 h2c on 127.0.0.1) implementing FineGuidanceSensors just far
 * enough for the CLI: it streams fixed events through the SDK's own filters, answers
 * health and version, and keeps policies in memory.
 */
export async function startFakeAgent(options: FakeAgentOptions): Promise<FakeAgent> {
  const addedYaml: string[] = [];
  const deleted: string[] = [];
  const impl: Partial<ServiceImpl<typeof FineGuidanceSensors>> = {
    async *getEvents(req, ctx) {
      let pass: (ev: GetEventsResponse) => boolean;
      let shape: (ev: GetEventsResponse) => GetEventsResponse;
      try {
        pass = compileFilters(req.allowList, req.denyList);
        shape = compileFieldFilters(req.fieldFilters);
      } catch (err) {
        if (err instanceof FilterError) throw new ConnectError(err.message, Code.InvalidArgument);
        throw err;
      }
      for (const ev of options.events) if (pass(ev)) yield shape(ev);
      if (options.hold) {
        await new Promise<void>((resolve) =>
          ctx.signal.addEventListener("abort", () => resolve(), { once: true }),
        );
      }
    },
    getHealth: () => ({
      healthStatus: [
        {
          event: HealthStatusType.STATUS,
          status: HealthStatusResult.HEALTH_STATUS_RUNNING,
          details: "running",
        },
      ],
    }),
    getVersion: () => ({ version: "v9.9.9-test" }),
    addTracingPolicy: (req) => {
      if (!req.yaml.includes("kind: TracingPolicy"))
        throw new ConnectError("not a TracingPolicy", Code.InvalidArgument);
      addedYaml.push(req.yaml);
      return {};
    },
    deleteTracingPolicy: (req) => {
      if (!(options.policies ?? []).some((p) => p.name === req.name)) {
        throw new ConnectError(`tracing policy ${req.name} does not exist`, Code.NotFound);
      }
      deleted.push(req.name);
      return {};
    },
    listTracingPolicies: () => ({
      policies: (options.policies ?? []).map((p) => create(TracingPolicyStatusSchema, p)),
    }),
  };
  const server = http2.createServer(
    connectNodeAdapter({ routes: (router) => router.service(FineGuidanceSensors, impl) }),
  );
  // close() waits for open sessions, and clients keep theirs alive.
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (s) => {
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    addedYaml,
    deleted,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A port on 127.0.0.1 with nothing listening (bound, then released). */
export async function unusedAddress(): Promise<string> {
  const server = http2.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `127.0.0.1:${port}`;
}
