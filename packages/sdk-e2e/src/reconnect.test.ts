import { Code, ConnectError } from "@connectrpc/connect";
import {
  createNsguardClient,
  filter,
  type GetEventsResponse,
  type ReconnectInfo,
  streamEvents,
} from "@nsguard/sdk";
import { afterEach, describe, expect, it } from "vitest";
import { kprobeEvent, startTestAgent, type TestAgent, waitFor } from "./agent.js";

const agents: TestAgent[] = [];
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.close()));
});

async function agentOn(port?: number): Promise<TestAgent> {
  const agent = await startTestAgent({ port });
  agents.push(agent);
  return agent;
}

describe("streamEvents against a real server", () => {
  it("resumes after the server is stopped and started again on the same port", async () => {
    let agent = await agentOn();
    const { port, address } = agent;
    const abort = new AbortController();
    const reconnects: ReconnectInfo[] = [];
    const received: GetEventsResponse[] = [];
    const iterator = streamEvents(
      createNsguardClient(address),
      { allowList: [filter().binaryRegex("nsenter$").build()] },
      {
        signal: abort.signal,
        reconnect: { initialDelayMs: 50, maxDelayMs: 400 },
        onReconnect: (info) => reconnects.push(info),
      },
    );
    const consumed = (async () => {
      for await (const event of iterator) received.push(event);
    })();

    await waitFor(() => agent.hub.subscriberCount === 1, "the first subscription");
    agent.hub.publish(kprobeEvent("/usr/bin/ls")); // filtered out by the server
    agent.hub.publish(kprobeEvent("/usr/bin/nsenter"));
    await waitFor(() => received.length === 1, "the first event");

    // Stop the server: the stream drops, and while it is down every attempt fails.
    await agent.close();
    agents.splice(agents.indexOf(agent), 1);
    await waitFor(() => reconnects.length >= 3, "failed attempts while the server is down");
    expect(reconnects[0]?.attempt).toBe(1);
    expect(reconnects.map((r) => r.attempt)).toEqual(reconnects.map((_, i) => i + 1));
    // The waits grow (up to jitter) while attempts keep failing.
    expect(reconnects[2]?.delayMs ?? 0).toBeGreaterThan(reconnects[0]?.delayMs ?? 0);

    // Same port, a new server (and hub): events published during the gap are gone, the new
    // ones arrive through the same iterator with the same filter.
    agent = await agentOn(port);
    await waitFor(() => agent.hub.subscriberCount === 1, "the resumed subscription");
    agent.hub.publish(kprobeEvent("/usr/bin/ls"));
    agent.hub.publish(kprobeEvent("/bin/nsenter", { namespace: "default", name: "web-1" }));
    await waitFor(() => received.length === 2, "the event after the restart");
    expect(
      received.map((e) => (e.event.case === "processKprobe" ? e.event.value.process?.binary : "")),
    ).toEqual(["/usr/bin/nsenter", "/bin/nsenter"]);

    // Aborting ends the iteration without an error, and the server sees the client go.
    abort.abort();
    await consumed;
    await waitFor(() => agent.hub.subscriberCount === 0, "the subscription to end");
  }, 60_000);

  it("throws what a retry cannot fix (a bad filter) instead of reconnecting", async () => {
    const agent = await agentOn();
    const reconnects: ReconnectInfo[] = [];
    const stream = streamEvents(
      createNsguardClient(agent.address),
      { allowList: [filter().labels("app in (").build()] },
      { onReconnect: (info) => reconnects.push(info) },
    );
    const error = await (async () => {
      try {
        for await (const _ of stream) return undefined;
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.InvalidArgument);
    expect(reconnects).toEqual([]);
  });

  it("without reconnect, throws the drop; with maxAttempts, gives up after that many", async () => {
    const agent = await agentOn();
    const noRetry = streamEvents(createNsguardClient(agent.address), {}, { reconnect: false });
    // Settled into a value at once: the rejection comes while the server closes.
    const first = noRetry.next().then(
      () => undefined,
      (e: unknown) => e,
    );
    await waitFor(() => agent.hub.subscriberCount === 1, "the subscription");
    await agent.close();
    agents.splice(0);
    expect(await first).toBeInstanceOf(ConnectError);
    expect(((await first) as ConnectError).code).toBe(Code.Unavailable);

    const reconnects: ReconnectInfo[] = [];
    const bounded = streamEvents(
      createNsguardClient(agent.address),
      {},
      { reconnect: { initialDelayMs: 10, maxAttempts: 2 }, onReconnect: (i) => reconnects.push(i) },
    );
    const error = await bounded.next().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((error as ConnectError).code).toBe(Code.Unavailable);
    expect(reconnects.map((r) => r.attempt)).toEqual([1, 2]);
  });
});
