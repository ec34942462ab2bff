import { describe, expect, it, vi } from "vitest";
import { EventHub, STALLED_AFTER_MS } from "./event-hub.js";
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
    expect(hub.stats()).toEqual({
      published: 1,
      dropped: 0,
      evicted: 0,
      subscribers: 0,
      saturated: false,
      perSubscriber: [],
    });
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

  it("isolates listeners: a stalled one loses events, counted, within its byte bound; live ones lose none", async () => {
    const hub = new EventHub({ queueSize: 10000, queueBytes: 64 * 1024 });
    const stalled = hub.subscribe({ signal: new AbortController().signal, label: "stalled" });
    const live = [1, 2, 3].map(() => hub.subscribe({ signal: new AbortController().signal }));
    const got: string[][] = live.map(() => []);
    const readers = live.map(async (sub, i) => {
      for await (const e of sub) {
        got[i]?.push(e.message.nodeName);
        if (got[i]?.length === 2000) break;
      }
    });
    for (let i = 0; i < 2000; i++) {
      hub.publish(named(`e${i}`), { source: 1 + (i % 3) });
      if (i % 50 === 49) await new Promise((r) => setImmediate(r)); // the live readers run
    }
    await Promise.all(readers);
    const want = Array.from({ length: 2000 }, (_, i) => `e${i}`);
    for (const g of got) expect(g).toEqual(want);
    const s = stalled.stats();
    // Bounded by bytes long before the count bound of 10000.
    expect(s.queuedBytes).toBeLessThanOrEqual(64 * 1024);
    expect(s.queueLength).toBeLessThan(2000);
    expect(s.byteCapacity).toBe(64 * 1024);
    expect(s.dropped + s.evicted).toBe(2000 - s.queueLength);
    expect(s.dropped + s.evicted).toBeGreaterThan(0);
    expect(hub.stats()).toMatchObject({ dropped: s.dropped + s.evicted, evicted: s.evicted, subscribers: 1 });
  });

  it("gives a light source's events priority over a flood in a slow listener's queue", () => {
    const hub = new EventHub({ queueSize: 16 });
    const slow = hub.subscribe({ signal: new AbortController().signal });
    const escapeAt = [3, 40, 41, 500]; // positions of the escape's four setns events in the flood
    for (let i = 0; i < 1000; i++) {
      if (escapeAt.includes(i)) hub.publish(named(`escape-${i}`), { source: 2 });
      hub.publish(named(`flood-${i}`), { source: 1 });
    }
    hub.publish(named("kill"), { source: 1, priority: true });
    const kept = slow.drain(100).map((e) => e.message.nodeName);
    expect(kept.filter((n) => !n.startsWith("flood"))).toEqual([
      ...escapeAt.map((i) => `escape-${i}`),
      "kill",
    ]);
    expect(slow.stats()).toMatchObject({ offered: 1005, delivered: 16, queueLength: 0 });
    expect(slow.stats().evicted).toBeGreaterThan(0);
  });

  it("does not report saturation for listeners that are all stalled: a hung client never blinds the producer", () => {
    vi.useFakeTimers({ toFake: ["performance"] });
    try {
      const hub = new EventHub({ queueSize: 8 });
      const a = hub.subscribe({ signal: new AbortController().signal });
      for (let i = 0; i < 6; i++) hub.publish(named(`e${i}`));
      expect(hub.saturated).toBe(true); // behind, and it took events recently (never: start-up counts)
      vi.advanceTimersByTime(STALLED_AFTER_MS + 1);
      expect(hub.saturated).toBe(false); // nothing taken for that long: stalled
      a.drain(1);
      expect(hub.saturated).toBe(true); // reading again, still behind: slow, so hold back
    } finally {
      vi.useRealTimers();
    }
  });

  it("reports saturation only while every listener is behind, and room once one catches up", () => {
    const hub = new EventHub({ queueSize: 8 });
    let rooms = 0;
    const off = hub.onRoom(() => rooms++);
    expect(hub.saturated).toBe(false); // nobody listening: nothing to hold back for
    const a = hub.subscribe({ signal: new AbortController().signal });
    const bAbort = new AbortController();
    hub.subscribe({ signal: bAbort.signal });
    for (let i = 0; i < 4; i++) hub.publish(named(`e${i}`));
    expect(hub.saturated).toBe(false); // at the high-water mark (half), not above it
    hub.publish(named("e4"));
    expect(hub.saturated).toBe(true);
    expect(hub.stats().saturated).toBe(true);
    // Draining to 3 is not enough (low-water mark: a quarter, 2)...
    a.drain(2);
    expect([hub.saturated, rooms]).toEqual([true, 0]);
    // ...draining to 2 is, once.
    void a.next();
    expect([hub.saturated, rooms]).toEqual([false, 1]);
    void a.next();
    expect(rooms).toBe(1);
    // Behind again: a is above its high mark once more, b still is.
    for (let i = 0; i < 4; i++) hub.publish(named(`f${i}`));
    expect(hub.saturated).toBe(true);
    // A new subscriber is not behind: room.
    const cAbort = new AbortController();
    hub.subscribe({ signal: cAbort.signal });
    expect([hub.saturated, rooms]).toEqual([false, 2]);
    // Removing the only one that kept up saturates again; removing a stalled one gives room.
    cAbort.abort();
    expect(hub.saturated).toBe(true);
    bAbort.abort();
    expect(hub.saturated).toBe(true); // a alone, still behind
    a.close();
    expect([hub.saturated, rooms]).toEqual([false, 3]);
    off();
    const d = hub.subscribe({ signal: new AbortController().signal });
    for (let i = 0; i < 8; i++) hub.publish(named(`g${i}`));
    d.drain(8);
    expect(rooms).toBe(3); // the listener was removed
  });

  it("keeps offered = delivered + dropped + evicted + queued exactly, through random traffic", () => {
    // Seeded, so a failure reproduces.
    let seed = 42;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const hub = new EventHub({ queueSize: 64, queueBytes: 16 * 1024 });
    const subs = [
      hub.subscribe({ signal: new AbortController().signal }),
      hub.subscribe({ signal: new AbortController().signal, queueSize: 7 }),
      hub.subscribe({
        signal: new AbortController().signal,
        filter: (e) => e.event.case === "processKprobe",
      }),
      hub.subscribe({ signal: new AbortController().signal, queueBytes: 3000 }),
    ];
    let published = 0;
    const prioritySent = new Map<number, number>();
    const priorityGot = subs.map(() => 0);
    for (let step = 0; step < 20000; step++) {
      if (rand() < 0.7) {
        const kprobe = rand() < 0.5;
        const message = kprobe
          ? sampleKprobeEvent(step, { padding: Math.floor(rand() * 600) })
          : sampleExecEvent(step);
        const priority = rand() < 0.01;
        hub.publish(message, { source: Math.floor(rand() * 5), priority });
        published++;
        if (priority) prioritySent.set(step, kprobe ? 1 : 0);
      } else {
        const i = Math.floor(rand() * subs.length);
        const taken = (subs[i] as (typeof subs)[number]).drain(Math.floor(rand() * 10), rand() * 8000);
        priorityGot[i] = (priorityGot[i] ?? 0) + taken.filter((e) => e.priority).length;
      }
      if (step % 1000 === 999 || step === 19999) {
        const stats = hub.stats();
        let lost = 0;
        for (const s of stats.perSubscriber) {
          expect(s.offered).toBe(s.delivered + s.dropped + s.evicted + s.queueLength);
          expect(s.offered + s.filtered).toBe(published);
          expect(s.queuedBytes).toBeLessThanOrEqual(s.byteCapacity);
          expect(s.queueLength).toBeLessThanOrEqual(s.queueSize);
          lost += s.dropped + s.evicted;
        }
        expect(stats.dropped).toBe(lost);
      }
    }
    // Priority events were rare enough never to fill a queue on their own: none was lost.
    for (const [i, sub] of subs.entries()) {
      priorityGot[i] = (priorityGot[i] ?? 0) + sub.drain(1000).filter((e) => e.priority).length;
    }
    const sentAll = prioritySent.size;
    const sentKprobe = [...prioritySent.values()].filter((k) => k === 1).length;
    expect(priorityGot).toEqual([sentAll, sentAll, sentKprobe, sentAll]);
    expect(hub.stats().dropped).toBeGreaterThan(0);
    expect(hub.stats().evicted).toBeGreaterThan(0);
  });

  it("rejects a bad queue size up front", () => {
    expect(() => new EventHub({ queueSize: 0 })).toThrow(RangeError);
    expect(() => new EventHub({ queueBytes: 0 })).toThrow(RangeError);
  });
});
