import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { GetEventsRequestSchema, GetEventsResponseSchema } from "@nsguard/sdk";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GET_EVENTS_PATH } from "./grpc-get-events.js";
import { HubEvent } from "./hub-event.js";
import { sampleKprobeEvent } from "./testing/events.js";
import { rawGrpcCall } from "./testing/raw-grpc-client.js";
import { startTestServer, type TestServer } from "./testing/test-server.js";
import { waitFor } from "./testing/wait-for.js";

const QUEUE_BYTES = 256 * 1024;
const request = toBinary(GetEventsRequestSchema, create(GetEventsRequestSchema));
/** The number a sample event was built with (its pid is 4000 + i). */
const seq = (m: Uint8Array) => {
  const e = fromBinary(GetEventsResponseSchema, m).event;
  return e.case === "processKprobe" ? (e.value.process?.pid ?? 0) - 4000 : -1;
};
const event = (i: number) => sampleKprobeEvent(i, { padding: 2000 });

describe("GetEvents over gRPC with a client that never reads", () => {
  let t: TestServer;
  beforeEach(async () => {
    t = await startTestServer({ queueSize: 10000, queueBytes: QUEUE_BYTES });
  });
  afterEach(async () => {
    await t.close();
  });

  it("costs the reading client nothing and the server only bounded memory, counting the losses", async () => {
    // Never reads: no WINDOW_UPDATE, so the server may put at most one stream window on the
    // wire, and must not write more into http2's buffers while the last write is pending.
    const stalled = rawGrpcCall({ url: t.url }, GET_EVENTS_PATH, request, { read: false });
    const live = rawGrpcCall({ url: t.url }, GET_EVENTS_PATH, request);
    await waitFor(() => t.hub.subscriberCount === 2, "both streams to subscribe");
    const [stalledId] = t.hub.stats().perSubscriber.map((s) => s.id);
    const statsOf = (id: number | undefined) => t.hub.stats().perSubscriber.find((s) => s.id === id);

    const total = 5000;
    const eventBytes = new HubEvent(event(0)).bytes.byteLength; // ~2.2 KB: 11 MB published in all
    for (let i = 0; i < total; i += 50) {
      for (let j = i; j < i + 50; j++) t.hub.publish(event(j), { source: 1 });
      await waitFor(() => live.messages.length === i + 50, "the reading client to catch up");
      expect(t.hub.saturated).toBe(false); // one listener keeps up: the producer must not stop
    }
    expect(live.messages.map(seq)).toEqual(Array.from({ length: total }, (_, i) => i));

    const s = statsOf(stalledId);
    expect(s?.queuedBytes).toBeLessThanOrEqual(QUEUE_BYTES);
    expect(s?.dropped).toBeGreaterThan(0);
    expect(s?.offered).toBe(total);
    expect(s?.offered).toBe(
      (s?.delivered ?? 0) + (s?.dropped ?? 0) + (s?.evicted ?? 0) + (s?.queueLength ?? 0),
    );
    // What left the queue for the stalled stream is all the server holds for it beyond the
    // queue: at most one write (1 MiB) on top of a stream window and a buffer's worth.
    expect((s?.delivered ?? 0) * eventBytes).toBeLessThanOrEqual((1 << 20) + 128 * 1024);
    expect(t.hub.stats().dropped).toBe((s?.dropped ?? 0) + (s?.evicted ?? 0));

    // The reader leaves: the stalled listener alone is behind, so the hub tells the producer.
    live.close();
    await waitFor(() => t.hub.subscriberCount === 1, "the reading client to unsubscribe");
    expect(t.hub.saturated).toBe(true);

    // Once it reads, the stalled client gets exactly what was not lost, in order.
    const kept = total - (s?.dropped ?? 0) - (s?.evicted ?? 0);
    stalled.read();
    await waitFor(() => stalled.messages.length === kept, "the stalled client to drain");
    const got = stalled.messages.map(seq);
    expect(got).toEqual([...got].sort((a, b) => a - b));
    expect(t.hub.saturated).toBe(false);
    stalled.close();
    await waitFor(() => t.hub.subscriberCount === 0, "the stalled client to unsubscribe");
  });
});
