import { describe, expect, it } from "vitest";
import { EventHub } from "./event-hub.js";
import { HubEvent } from "./hub-event.js";
import { sampleExecEvent, sampleKprobeEvent } from "./testing/events.js";

const nodeNames = (events: HubEvent[]) => events.map((e) => e.message.nodeName);

async function drain(iterable: AsyncIterable<HubEvent>, count: number): Promise<HubEvent[]> {
  const out: HubEvent[] = [];
  if (count === 0) return out;
  for await (const e of iterable) {
    out.push(e);
    if (out.length === count) break;
  }
  return out;
}

function named(name: string) {
  const e = sampleExecEvent(0);
  e.nodeName = name;
  return e;
}

describe("EventHub", () => {
  it("counts publishes with nobody listening and returns the shared event", () => {
    const hub = new EventHub();
    const event = hub.publish(sampleKprobeEvent(1));
    expect(event).toBeInstanceOf(HubEvent);
    expect(hub.stats()).toEqual({ published: 1, dropped: 0, subscribers: 0, perSubscriber: [] });
  });

  it("delivers in order, the same HubEvent object to every subscriber", async () => {
    const hub = new EventHub();
    const a = hub.subscribe({ signal: new AbortController().signal });
    const b = hub.subscribe({ signal: new AbortController().signal });
    const published = ["e1", "e2", "e3"].map((n) => hub.publish(named(n)));
    const [ga, gb] = await Promise.all([drain(a, 3), drain(b, 3)]);
    expect(nodeNames(ga)).toEqual(["e1", "e2", "e3"]);
    ga.forEach((e, i) => {
      expect(e).toBe(published[i]);
      expect(gb[i]).toBe(published[i]);
    });
  });

  it("records how many subscribers took each event", () => {
    const hub = new EventHub({ queueSize: 1 });
    hub.subscribe({ signal: new AbortController().signal });
    hub.subscribe({
      signal: new AbortController().signal,
      queueSize: 10,
      filter: (e) => e.event.case === "processExec",
    });
    expect(hub.publish(sampleExecEvent(1)).recipients).toBe(2); // the first queue is now full
    expect(hub.publish(sampleKprobeEvent(2)).recipients).toBe(0); // dropped by one, filtered by the other
    expect(hub.publish(sampleExecEvent(3)).recipients).toBe(1);
  });

  it("hands an event straight to a reader already waiting", async () => {
    const hub = new EventHub();
    const sub = hub.subscribe({ signal: new AbortController().signal });
    const next = sub.next();
    hub.publish(named("now"));
    expect((await next).value?.message.nodeName).toBe("now");
    expect(sub.stats()).toMatchObject({ queued: 1, delivered: 1, queueLength: 0 });
  });

  it("filters at publish time: rejected events take no queue space", () => {
    const hub = new EventHub({ queueSize: 2 });
    const sub = hub.subscribe({
      signal: new AbortController().signal,
      filter: (e) => e.event.case === "processExec",
    });
    for (let i = 0; i < 10; i++) hub.publish(sampleKprobeEvent(i));
    hub.publish(sampleExecEvent(1));
    expect(sub.stats()).toMatchObject({ filtered: 10, queued: 1, dropped: 0, queueLength: 1 });
  });

  it("drops and counts per subscriber when a queue is full, and never blocks publish", async () => {
    const hub = new EventHub({ queueSize: 3 });
    const slow = hub.subscribe({ signal: new AbortController().signal });
    const roomy = hub.subscribe({ signal: new AbortController().signal, queueSize: 100 });
    for (let i = 0; i < 10; i++) hub.publish(named(`e${i}`));
    expect(slow.stats()).toMatchObject({ queued: 3, dropped: 7, queueLength: 3, queueSize: 3 });
    expect(roomy.stats()).toMatchObject({ queued: 10, dropped: 0 });
    expect(hub.stats()).toMatchObject({ published: 10, dropped: 7, subscribers: 2 });
    // The slow one keeps the oldest events (a full queue refuses newcomers, like a Go channel).
    expect(nodeNames(await drain(slow, 3))).toEqual(["e0", "e1", "e2"]);
    expect(nodeNames(await drain(roomy, 10))).toEqual(Array.from({ length: 10 }, (_, i) => `e${i}`));
    // Drops stay counted after the subscribers are gone.
    expect(hub.stats()).toMatchObject({ dropped: 7, subscribers: 0 });
  });

  it("ends the iteration and unsubscribes when the signal aborts", async () => {
    const hub = new EventHub();
    const abort = new AbortController();
    const sub = hub.subscribe({ signal: abort.signal });
    hub.publish(named("queued"));
    expect(hub.subscriberCount).toBe(1);
    const events: HubEvent[] = [];
    const done = (async () => {
      for await (const e of sub) events.push(e);
    })();
    await new Promise((r) => setImmediate(r));
    abort.abort();
    await done;
    expect(nodeNames(events)).toEqual(["queued"]);
    expect(hub.subscriberCount).toBe(0);
    expect(sub.closed).toBe(true);
    hub.publish(named("late"));
    expect(sub.stats().queued).toBe(1);
  });

  it("unsubscribes when a for-await loop is left early, discarding its queue", async () => {
    const hub = new EventHub();
    const sub = hub.subscribe({ signal: new AbortController().signal });
    for (let i = 0; i < 5; i++) hub.publish(named(`e${i}`));
    expect(nodeNames(await drain(sub, 2))).toEqual(["e0", "e1"]);
    expect(hub.subscriberCount).toBe(0);
    expect(sub.stats().queueLength).toBe(0);
    expect(await sub.next()).toEqual({ value: undefined, done: true });
  });

  it("does not register a subscriber whose signal is already aborted", async () => {
    const hub = new EventHub();
    const sub = hub.subscribe({ signal: AbortSignal.abort() });
    expect(hub.subscriberCount).toBe(0);
    expect(await sub.next()).toEqual({ value: undefined, done: true });
  });

  it("keeps publishing to others when one subscriber's filter throws", async () => {
    const hub = new EventHub();
    const broken = hub.subscribe({
      signal: new AbortController().signal,
      filter: () => {
        throw new Error("bad filter");
      },
    });
    const fine = hub.subscribe({ signal: new AbortController().signal });
    hub.publish(named("e"));
    expect(broken.stats()).toMatchObject({ filterErrors: 1, queued: 0 });
    expect(nodeNames(await drain(fine, 1))).toEqual(["e"]);
  });

  it("labels subscribers for stats", () => {
    const hub = new EventHub();
    hub.subscribe({ signal: new AbortController().signal, label: "exporter" });
    hub.subscribe({ signal: new AbortController().signal });
    expect(hub.stats().perSubscriber.map((s) => s.label)).toEqual(["exporter", "subscriber-2"]);
  });

  it("rejects a bad queue size up front", () => {
    expect(() => new EventHub({ queueSize: 0 })).toThrow(RangeError);
  });
});
