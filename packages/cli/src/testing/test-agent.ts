import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AgentPolicyStore, type PolicyLoader } from "@nsguard/agent";
import { peerCredentials } from "@nsguard/native";
import type { GetEventsResponse } from "@nsguard/sdk";
import { createFineGuidanceSensorsRoutes, EventHub, type RunningServer, startServer } from "@nsguard/server";

export const TEST_AGENT_VERSION = "v9.9.9-test";

/**
 * The agent's API as the CLI meets it, minus the kernel: the real @nsguard/server (routes,
 * listener, GetEvents over gRPC) fed by a real EventHub, and the agent's real policy store
 * (parse, compile, Tetragon's collection rules) whose loader records instead of attaching BPF
 * programs, so no root is needed.
 */
export interface TestAgent {
  /** host:port of the TCP listener. */
  address: string;
  /** The unix socket, as `unix:///path`. */
  unixAddress: string;
  hub: EventHub;
  policies: AgentPolicyStore;
  /** Load keys (`<store key>#<n>`) of the policies the loader holds now (what the sensor would attach). */
  loaded: Set<string>;
  server: RunningServer;
  /**
   * Starts `run` (a CLI invocation streaming events), waits until its GetEvents subscription is
   * registered, publishes `events`, and returns what `run` resolved with plus how many events
   * the server-side filters let through (counted at publish time, where the filters run).
   */
  stream<T>(run: () => Promise<T>, events: GetEventsResponse[]): Promise<{ result: T; passed: number }>;
  close(): Promise<void>;
}

export async function startTestAgent(): Promise<TestAgent> {
  const loaded = new Set<string>();
  const loader: PolicyLoader = {
    async loadPolicy(key) {
      loaded.add(key);
    },
    async unloadPolicy(key) {
      loaded.delete(key);
    },
  };
  const hub = new EventHub();
  const policies = new AgentPolicyStore(loader);
  const dir = mkdtempSync(join(tmpdir(), "nsguard-cli-agent-"));
  const socket = join(dir, "nsguard.sock");
  const server = await startServer({
    routes: createFineGuidanceSensorsRoutes({ events: hub, policies, version: TEST_AGENT_VERSION }),
    getEvents: { source: hub },
    tcpAddress: "127.0.0.1:0",
    unixSocket: socket,
    // As the agent does for root: this test's own uid may change policies over the socket.
    unixSocketControl: { peerCredentials, uids: [process.getuid?.() ?? 0] },
    onError: () => {},
  });
  const tcp = server.addresses.tcp;
  if (tcp === undefined) throw new Error("test agent has no TCP listener");
  return {
    address: `${tcp.host}:${tcp.port}`,
    unixAddress: `unix://${socket}`,
    hub,
    policies,
    loaded,
    server,
    async stream(run, events) {
      // A previous test's stream may still be winding down on the server: wait for this one's.
      const earlier = new Set(hub.stats().perSubscriber.map((s) => s.id));
      const fresh = () => hub.stats().perSubscriber.find((s) => !earlier.has(s.id));
      const pending = run();
      let settled = false;
      pending.then(
        () => {
          settled = true;
        },
        () => {
          settled = true;
        },
      );
      while (fresh() === undefined && !settled) await new Promise((r) => setTimeout(r, 2));
      const id = fresh()?.id;
      for (const event of events) hub.publish(event);
      const passed = hub.stats().perSubscriber.find((s) => s.id === id)?.offered ?? 0;
      return { result: await pending, passed };
    },
    async close() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
