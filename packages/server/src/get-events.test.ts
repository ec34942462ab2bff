import * as net from "node:net";
import { create, equals, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import {
  EventType,
  FieldFilterAction,
  FineGuidanceSensors,
  type GetEventsRequest,
  GetEventsRequestSchema,
  type GetEventsResponse,
  GetEventsResponseSchema,
} from "@nsguard/sdk";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HubEvent } from "./hub-event.js";
import { sampleExecEvent, sampleKprobeEvent } from "./testing/events.js";
import { rawGrpcCall } from "./testing/raw-grpc-client.js";
import { startTestServer, type TestServer, transportFor, transportKinds } from "./testing/test-server.js";
import { waitFor } from "./testing/wait-for.js";

const GET_EVENTS = "/tetragon.FineGuidanceSensors/GetEvents";

/**
 * Reads `count` events from a call, then cancels it. (Leaving a for-await loop is not enough:
 * connect-es client streams deliberately hide `return()`, so only the signal cancels the call.)
 */
async function take(
  open: (options: { signal: AbortSignal }) => AsyncIterable<GetEventsResponse>,
  count: number,
): Promise<GetEventsResponse[]> {
  const abort = new AbortController();
  const out: GetEventsResponse[] = [];
  try {
    for await (const event of open({ signal: abort.signal })) {
      out.push(event);
      if (out.length === count) break;
    }
  } finally {
    abort.abort();
  }
  return out;
}

/** The sequence number a sample event was built with (its time is 1.7e12 ms + i). */
function seq(e: GetEventsResponse | undefined): number {
  return Number(e?.time?.seconds ?? 0n) * 1000 + (e?.time?.nanos ?? 0) / 1e6 - 1_700_000_000_000;
}

function expectSameEvents(got: GetEventsResponse[], want: GetEventsResponse[]): void {
  expect(got).toHaveLength(want.length);
  got.forEach((e, i) => {
    expect(equals(GetEventsResponseSchema, e, want[i] as GetEventsResponse)).toBe(true);
  });
}

function request(init: Parameters<typeof create<typeof GetEventsRequestSchema>>[1] = {}): GetEventsRequest {
  return create(GetEventsRequestSchema, init);
}

describe("GetEvents over a real server", () => {
  let t: TestServer;
  beforeEach(async () => {
    t = await startTestServer({ queueSize: 64 });
  });
  afterEach(async () => {
    await t.close();
  });

  for (const kind of transportKinds) {
    for (const via of ["tcp", "unix"] as const) {
      it(`delivers published events unchanged to a ${kind} client over ${via}`, async () => {
        const client = createClient(
          FineGuidanceSensors,
          transportFor(
            kind,
            via === "tcp" ? t.url : "http://localhost",
            via === "unix" ? t.socketPath : undefined,
          ),
        );
        const events = [
          sampleKprobeEvent(1, { namespace: "prod" }),
          sampleExecEvent(2),
          sampleKprobeEvent(3),
        ];
        const received = take((o) => client.getEvents(request(), o), events.length);
        await waitFor(() => t.hub.subscriberCount === 1, "the stream to subscribe");
        for (const e of events) t.hub.publish(e);
        expectSameEvents(await received, events);
        // take() cancelled the call; the server must notice and unsubscribe.
        await waitFor(() => t.hub.subscriberCount === 0, "the subscriber to go away");
      });
    }
  }

  it("delivers shared events to every protocol at once (binary ones get the pre-encoded shell)", async () => {
    const events = [sampleKprobeEvent(1, { namespace: "prod" }), sampleExecEvent(2), sampleKprobeEvent(3)];
    const receiving = transportKinds.map((kind) =>
      take(
        (o) => createClient(FineGuidanceSensors, transportFor(kind, t.url)).getEvents(request(), o),
        events.length,
      ),
    );
    await waitFor(() => t.hub.subscriberCount === transportKinds.length, "every stream to subscribe");
    for (const e of events) expect(t.hub.publish(e).recipients).toBe(transportKinds.length);
    for (const got of await Promise.all(receiving)) expectSameEvents(got, events);
  });

  it("applies each client's own allow/deny filters", async () => {
    const grpc = createClient(FineGuidanceSensors, transportFor("grpc", t.url));
    const json = createClient(FineGuidanceSensors, transportFor("connect-json", t.url));
    const n = 40;
    // Even events: an nsenter in pod namespace "prod"; odd: an unshare on the host.
    const events = Array.from({ length: n }, (_, i) =>
      i % 2 === 0
        ? sampleKprobeEvent(i, { namespace: "prod", binary: "/usr/bin/nsenter" })
        : sampleKprobeEvent(i, { binary: "/usr/bin/unshare" }),
    );
    const prodOnly = take((o) => grpc.getEvents(request({ allowList: [{ namespace: ["prod"] }] }), o), n / 2);
    const notNsenter = take(
      (o) => json.getEvents(request({ denyList: [{ binaryRegex: ["nsenter$"] }] }), o),
      n / 2,
    );
    await waitFor(() => t.hub.subscriberCount === 2, "both streams to subscribe");
    for (const e of events) t.hub.publish(e);

    const evens = events.filter((_, i) => i % 2 === 0);
    const odds = events.filter((_, i) => i % 2 === 1);
    const [a, b] = await Promise.all([prodOnly, notNsenter]);
    expect(a.map(seq)).toEqual(evens.map(seq));
    expect(b.map(seq)).toEqual(odds.map(seq));
    expectSameEvents(a, evens);
    expectSameEvents(b, odds);
    // Filtering happened at publish time: rejected events were never queued.
    expect(t.hub.stats().dropped).toBe(0);
  });

  for (const clients of [1, 2]) {
    it(`sends independent gRPC clients exactly toBinary(event) (${clients} sharing each event)`, async () => {
      // One recipient: connect encodes the message itself; two: both get the shared shell.
      const calls = Array.from({ length: clients }, () =>
        rawGrpcCall({ url: t.url }, GET_EVENTS, toBinary(GetEventsRequestSchema, request())),
      );
      await waitFor(() => t.hub.subscriberCount === clients, "the streams to subscribe");
      const events = Array.from({ length: 20 }, (_, i) =>
        i % 3 === 0 ? sampleExecEvent(i) : sampleKprobeEvent(i, { namespace: i % 2 ? "prod" : undefined }),
      );
      for (const e of events) expect(t.hub.publish(e).recipients).toBe(clients);
      for (const call of calls) {
        await waitFor(() => call.messages.length === events.length, "all messages");
        call.messages.forEach((bytes, i) => {
          const sent = events[i] as GetEventsResponse;
          expect(Buffer.from(bytes).equals(Buffer.from(toBinary(GetEventsResponseSchema, sent)))).toBe(true);
          expect(equals(GetEventsResponseSchema, fromBinary(GetEventsResponseSchema, bytes), sent)).toBe(
            true,
          );
        });
        call.close();
      }
      await waitFor(() => t.hub.subscriberCount === 0, "the subscribers to go away");
    });
  }

  it("also streams over the unix socket to an independent gRPC client", async () => {
    const call = rawGrpcCall(
      { socketPath: t.socketPath },
      GET_EVENTS,
      toBinary(GetEventsRequestSchema, request()),
    );
    await waitFor(() => t.hub.subscriberCount === 1, "the stream to subscribe");
    const event = sampleKprobeEvent(7, { namespace: "kube-system" });
    t.hub.publish(event);
    await waitFor(() => call.messages.length === 1, "the message");
    expect(
      Buffer.from(call.messages[0] as Uint8Array).equals(
        Buffer.from(toBinary(GetEventsResponseSchema, event)),
      ),
    ).toBe(true);
    call.close();
  });

  it("drops for a slow client only, counts the drops, and never blocks publish", async () => {
    const fast = createClient(FineGuidanceSensors, transportFor("grpc", t.url));
    const fastEvents: GetEventsResponse[] = [];
    const abortFast = new AbortController();
    const fastDone = (async () => {
      for await (const e of fast.getEvents(request(), { signal: abortFast.signal })) fastEvents.push(e);
    })().catch(() => undefined);
    // Never reads: HTTP/2 flow control stalls the server's writes, so its hub queue fills up.
    const slow = rawGrpcCall({ url: t.url }, GET_EVENTS, toBinary(GetEventsRequestSchema, request()), {
      read: false,
    });
    await waitFor(() => t.hub.subscriberCount === 2, "both streams to subscribe");

    const total = 1000;
    const batch = 32; // half the queue size: the fast reader is never more than one batch behind
    for (let i = 0; i < total; i += batch) {
      for (let j = i; j < Math.min(i + batch, total); j++) {
        // Synchronous: returns the shared HubEvent, never a promise, whatever the readers do.
        expect(t.hub.publish(sampleKprobeEvent(j, { padding: 2000 }))).toBeInstanceOf(HubEvent);
      }
      await waitFor(() => fastEvents.length === Math.min(i + batch, total), "the fast client to catch up");
    }
    const stats = t.hub.stats();
    const [fastStats, slowStats] = [...stats.perSubscriber].sort((a, b) => a.id - b.id);
    expect(stats.published).toBe(total);
    expect(fastStats?.dropped).toBe(0);
    expect(fastEvents.map(seq)).toEqual(Array.from({ length: total }, (_, i) => i));
    expect(slowStats?.dropped).toBeGreaterThan(0);
    expect(slowStats?.queueLength).toBe(64);
    expect(stats.dropped).toBe(slowStats?.dropped);

    // Once the slow client reads, it gets exactly what was not dropped, in order.
    const dropped = slowStats?.dropped ?? 0;
    slow.read();
    await waitFor(() => slow.messages.length === total - dropped, "the slow client to drain");
    const seen = slow.messages.map((m) => seq(fromBinary(GetEventsResponseSchema, m)));
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);
    slow.close();
    abortFast.abort();
    await fastDone;
    await waitFor(() => t.hub.subscriberCount === 0, "both subscribers to go away");
  });

  it("rejects an invalid filter with InvalidArgument and registers nothing", async () => {
    const client = createClient(FineGuidanceSensors, transportFor("grpc", t.url));
    const cases: GetEventsRequest[] = [
      request({ allowList: [{ binaryRegex: ["("] }] }),
      request({ denyList: [{ celExpression: ["1 + 1"] }] }),
      request({ fieldFilters: [{ fields: { paths: ["process.no_such_field"] } }] }),
    ];
    for (const req of cases) {
      const err = await take((o) => client.getEvents(req, o), 1).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ConnectError);
      expect((err as ConnectError).code).toBe(Code.InvalidArgument);
      expect((err as ConnectError).rawMessage).toMatch(/^invalid GetEvents filter: /);
    }
    expect(t.hub.subscriberCount).toBe(0);

    // The same over the independent client: gRPC status 3 in a trailers-only response.
    const raw = rawGrpcCall(
      { url: t.url },
      GET_EVENTS,
      toBinary(GetEventsRequestSchema, request({ allowList: [{ labels: ["app in (x"] }] })),
    );
    const status = await raw.status;
    expect(status.code).toBe(Code.InvalidArgument);
    expect(status.message).toContain("labels");
    raw.close();
  });

  for (const kind of ["grpc", "connect-json"] as const) {
    it(`applies field filters for a ${kind} client, leaving other clients' events whole`, async () => {
      const shaped = createClient(FineGuidanceSensors, transportFor(kind, t.url));
      const whole = createClient(FineGuidanceSensors, transportFor("grpc", t.url));
      const req = request({
        fieldFilters: [
          {
            eventSet: [EventType.PROCESS_KPROBE],
            fields: { paths: ["process.binary", "function_name"] },
            action: FieldFilterAction.INCLUDE,
          },
        ],
        aggregationOptions: { channelBufferSize: 10n },
      });
      const a = take((o) => shaped.getEvents(req, o), 2);
      const b = take((o) => whole.getEvents(request(), o), 2);
      await waitFor(() => t.hub.subscriberCount === 2, "both streams to subscribe");
      const kprobe = sampleKprobeEvent(1, { namespace: "prod" });
      const exec = sampleExecEvent(2);
      t.hub.publish(kprobe);
      t.hub.publish(exec);
      const [[k, e], [k2, e2]] = await Promise.all([a, b]);
      expect(k?.event.case).toBe("processKprobe");
      if (k?.event.case === "processKprobe") {
        expect(k.event.value.process?.binary).toBe("/usr/bin/nsenter");
        expect(k.event.value.process?.pid).toBeUndefined();
        expect(k.event.value.functionName).toBe("__x64_sys_setns");
        expect(k.event.value.policyName).toBe("");
      }
      // Top-level fields stay; the exec event is outside the filter's event_set.
      expect(k?.nodeName).toBe("node-1");
      expect(equals(GetEventsResponseSchema, e as GetEventsResponse, exec)).toBe(true);
      // The shared message was not touched.
      expect(equals(GetEventsResponseSchema, k2 as GetEventsResponse, kprobe)).toBe(true);
      expect(equals(GetEventsResponseSchema, e2 as GetEventsResponse, exec)).toBe(true);
    });
  }

  it("survives a gRPC client whose socket is destroyed mid-stream", async () => {
    const call = rawGrpcCall({ url: t.url }, GET_EVENTS, toBinary(GetEventsRequestSchema, request()));
    await waitFor(() => t.hub.subscriberCount === 1, "the stream to subscribe");
    t.hub.publish(sampleKprobeEvent(0));
    await waitFor(() => call.messages.length === 1, "the first message");
    call.socket.destroy();
    for (let i = 1; i < 200; i++) t.hub.publish(sampleKprobeEvent(i, { padding: 1000 }));
    await waitFor(() => t.hub.subscriberCount === 0, "the dead stream to unsubscribe");
    const health = await createClient(FineGuidanceSensors, transportFor("grpc", t.url)).getHealth({});
    expect(health.healthStatus).toHaveLength(1);
    // A client going away is not an error worth reporting.
    expect(t.errors).toEqual([]);
  });

  it("survives an HTTP/1.1 Connect client whose socket is destroyed mid-stream", async () => {
    const body = Buffer.concat([Buffer.from([0, 0, 0, 0, 2]), Buffer.from("{}")]);
    const socket = net.connect(Number(new URL(t.url).port), "127.0.0.1");
    socket.on("error", () => undefined);
    let received = "";
    socket.on("data", (chunk: Buffer) => {
      received += chunk.toString("latin1");
    });
    socket.write(
      `POST ${GET_EVENTS} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/connect+json\r\n` +
        `Connect-Protocol-Version: 1\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    socket.write(body);
    await waitFor(() => t.hub.subscriberCount === 1, "the stream to subscribe");
    t.hub.publish(sampleKprobeEvent(0));
    await waitFor(() => received.includes("__x64_sys_setns"), "the first message");
    expect(received).toMatch(/^HTTP\/1\.1 200/);
    socket.destroy();
    for (let i = 1; i < 200; i++) t.hub.publish(sampleKprobeEvent(i, { padding: 1000 }));
    await waitFor(() => t.hub.subscriberCount === 0, "the dead stream to unsubscribe");
    const version = await createClient(FineGuidanceSensors, transportFor("connect-json", t.url)).getVersion(
      {},
    );
    expect(version.version).toBe("v0.0.0-test");
    expect(t.errors).toEqual([]);
  });

  it("ends the subscription when the client aborts", async () => {
    for (const kind of transportKinds) {
      const client = createClient(FineGuidanceSensors, transportFor(kind, t.url));
      const abort = new AbortController();
      const got: GetEventsResponse[] = [];
      const done = (async () => {
        for await (const e of client.getEvents(request(), { signal: abort.signal })) got.push(e);
      })().then(
        () => undefined,
        (e: unknown) => e,
      );
      await waitFor(() => t.hub.subscriberCount === 1, `the ${kind} stream to subscribe`);
      t.hub.publish(sampleKprobeEvent(1));
      await waitFor(() => got.length === 1, `the ${kind} event`);
      abort.abort();
      expect(ConnectError.from(await done).code).toBe(Code.Canceled);
      await waitFor(() => t.hub.subscriberCount === 0, `the ${kind} subscriber to go away`);
    }
  });

  it("ends a stream with the error when an event cannot be sent (writeMaxBytes)", async () => {
    await t.close();
    t = await startTestServer({ adapterOptions: { writeMaxBytes: 100 } });
    const client = createClient(FineGuidanceSensors, transportFor("grpc", t.url));
    const outcome = take((o) => client.getEvents(request(), o), 1).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    await waitFor(() => t.hub.subscriberCount === 1, "the stream to subscribe");
    t.hub.publish(sampleKprobeEvent(1, { padding: 500 }));
    const error = await outcome;
    expect(error?.code).toBe(Code.ResourceExhausted);
    expect(error?.rawMessage).toMatch(/larger than configured writeMaxBytes 100/);
    await waitFor(() => t.hub.subscriberCount === 0, "the failed stream to unsubscribe");
    // Answered to the client as a status: nothing for the server's error reporter.
    expect(t.errors).toEqual([]);
  });
});
