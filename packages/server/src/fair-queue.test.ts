import { create } from "@bufbuild/protobuf";
import { GetEventsResponseSchema } from "@nsguard/sdk";
import { describe, expect, it } from "vitest";
import { FairQueue } from "./fair-queue.js";
import { HubEvent } from "./hub-event.js";

/** An event tagged `name`, from `source`; its size is whatever the test says it is. */
function ev(name: string, source: number, priority = false): HubEvent {
  return new HubEvent(create(GetEventsResponseSchema, { nodeName: name }), { source, priority });
}

function drainAll(q: FairQueue): string[] {
  const out: string[] = [];
  for (let e = q.shift(); e; e = q.shift()) out.push(e.message.nodeName);
  return out;
}

describe("FairQueue", () => {
  it("is FIFO and bounded in count while there is room", () => {
    const q = new FairQueue(3, 1000);
    expect([q.push(ev("a", 1), 10), q.push(ev("b", 2), 10), q.push(ev("c", 1), 10)]).toEqual([
      true,
      true,
      true,
    ]);
    expect({ length: q.length, bytes: q.bytes, peek: q.peekSize() }).toEqual({
      length: 3,
      bytes: 30,
      peek: 10,
    });
    expect(drainAll(q)).toEqual(["a", "b", "c"]);
    expect({ length: q.length, bytes: q.bytes, peek: q.peekSize(), evicted: q.evicted }).toEqual({
      length: 0,
      bytes: 0,
      peek: undefined,
      evicted: 0,
    });
  });

  it("refuses a newcomer whose own source is the heaviest, keeping the oldest", () => {
    const q = new FairQueue(3, 1000);
    for (const n of ["a", "b", "c", "d", "e"]) q.push(ev(n, 7), 1);
    expect(q.evicted).toBe(0);
    expect(drainAll(q)).toEqual(["a", "b", "c"]);
  });

  it("makes a flood from one source give way to a light source", () => {
    const q = new FairQueue(10, 1 << 20);
    const light: string[] = [];
    let flood = 0;
    for (let i = 0; i < 1000; i++) {
      // The escape's four setns events arrive while the queue is long full of the flood.
      if (i % 200 === 150) {
        const name = `light-${light.length}`;
        light.push(name);
        expect(q.push(ev(name, 2), 100)).toBe(true);
      }
      q.push(ev(`flood-${flood++}`, 1), 100);
    }
    const out = drainAll(q);
    expect(out.filter((n) => n.startsWith("light"))).toEqual(light);
    // The flood keeps its order; whatever of it survives is its newest after each eviction.
    const floodSeq = out.filter((n) => n.startsWith("flood")).map((n) => Number(n.slice(6)));
    expect([...floodSeq].sort((a, b) => a - b)).toEqual(floodSeq);
    expect(out).toHaveLength(10);
  });

  it("shares a full queue evenly between competing sources", () => {
    const q = new FairQueue(12, 1 << 20);
    for (let i = 0; i < 300; i++) q.push(ev(`s${i % 3}`, i % 3), 1);
    // Once full, each newcomer either evicts from a heavier source or is refused: counts converge.
    const counts = new Map<string, number>();
    for (const n of drainAll(q)) counts.set(n, (counts.get(n) ?? 0) + 1);
    expect(Object.fromEntries(counts)).toEqual({ s0: 4, s1: 4, s2: 4 });
  });

  it("never loses a priority event while ordinary ones are queued", () => {
    const q = new FairQueue(4, 1 << 20);
    for (let i = 0; i < 4; i++) q.push(ev(`o${i}`, 1), 1);
    // Same source as the ordinary events: a priority event evicts the oldest ordinary anyway.
    expect(q.push(ev("p0", 1, true), 1)).toBe(true);
    expect(q.push(ev("p1", 2, true), 1)).toBe(true);
    expect(q.push(ev("p2", 3, true), 1)).toBe(true);
    expect(q.evicted).toBe(3);
    // An ordinary event never evicts a priority one: with one ordinary left, of source 1, an
    // event of source 1 is refused and one of source 9 takes the ordinary's place.
    expect(q.push(ev("o-refused", 1), 1)).toBe(false);
    expect(q.push(ev("o-other", 9), 1)).toBe(true);
    expect(q.push(ev("p3", 4, true), 1)).toBe(true);
    // Nothing but priority events: the newcomer, priority or not, is refused.
    expect(q.push(ev("p-refused", 5, true), 1)).toBe(false);
    expect(q.push(ev("o-refused-2", 6), 1)).toBe(false);
    expect(drainAll(q)).toEqual(["p0", "p1", "p2", "p3"]);
    expect(q.evicted).toBe(5);
  });

  it("is bounded in bytes: evicts as many as it takes, refuses what can never fit", () => {
    const q = new FairQueue(100, 1000);
    for (let i = 0; i < 10; i++) q.push(ev(`small-${i}`, 1), 100);
    expect(q.bytes).toBe(1000);
    // 350 bytes from another source: four of the heaviest source's oldest make room.
    expect(q.push(ev("big", 2), 350)).toBe(true);
    expect({ length: q.length, bytes: q.bytes, evicted: q.evicted }).toEqual({
      length: 7,
      bytes: 950,
      evicted: 4,
    });
    expect(q.push(ev("huge", 3), 1001)).toBe(false);
    expect(q.evicted).toBe(4);
    expect(drainAll(q)).toEqual(["small-4", "small-5", "small-6", "small-7", "small-8", "small-9", "big"]);
  });

  it("keeps the heaviest source right through interleaved pushes, shifts and evictions", () => {
    // A seeded random walk; after it, each source's survivors must be its newest-kept in order
    // and a light source that never had more than its share queued must have lost nothing.
    let seed = 12345;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const q = new FairQueue(40, 1 << 20);
    const lightSent: string[] = [];
    const out: string[] = [];
    for (let i = 0; i < 20000; i++) {
      const r = rand();
      if (r < 0.002) {
        const name = `light-${i}`;
        lightSent.push(name);
        expect(q.push(ev(name, 100), 1)).toBe(true);
      } else if (r < 0.8) {
        q.push(ev(`heavy${Math.floor(rand() * 3)}-${i}`, Math.floor(rand() * 3)), 1);
      } else {
        const e = q.shift();
        if (e) out.push(e.message.nodeName);
      }
      expect(q.length).toBeLessThanOrEqual(40);
    }
    out.push(...drainAll(q));
    expect(out.filter((n) => n.startsWith("light"))).toEqual(lightSent);
    const seqOf = (n: string) => Number(n.split("-")[1]);
    expect(out.map(seqOf)).toEqual([...out.map(seqOf)].sort((a, b) => a - b));
  });

  it("rejects capacities that are not positive integers", () => {
    expect(() => new FairQueue(0, 10)).toThrow(RangeError);
    expect(() => new FairQueue(10, 0)).toThrow(RangeError);
    expect(() => new FairQueue(1.5, 10)).toThrow(RangeError);
  });
});
