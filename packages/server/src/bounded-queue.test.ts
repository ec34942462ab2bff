import { describe, expect, it } from "vitest";
import { BoundedQueue } from "./bounded-queue.js";

describe("BoundedQueue", () => {
  it("is FIFO across growth and wrap-around", () => {
    const q = new BoundedQueue<number>(128);
    const out: number[] = [];
    let next = 0;
    // Interleave pushes and shifts so the ring wraps while it grows.
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 3; i++) q.push(next++);
      const v = q.shift();
      if (v !== undefined) out.push(v);
    }
    while (q.size > 0) out.push(q.shift() as number);
    expect(out).toEqual(Array.from({ length: next }, (_, i) => i));
  });

  it("refuses pushes when full and leaves its content alone", () => {
    const q = new BoundedQueue<string>(2);
    expect(q.push("a")).toBe(true);
    expect(q.push("b")).toBe(true);
    expect(q.push("c")).toBe(false);
    expect(q.size).toBe(2);
    expect([q.shift(), q.shift(), q.shift()]).toEqual(["a", "b", undefined]);
  });

  it("clear empties it", () => {
    const q = new BoundedQueue<number>(5);
    q.push(1);
    q.push(2);
    q.clear();
    expect(q.size).toBe(0);
    expect(q.shift()).toBeUndefined();
    expect(q.push(3)).toBe(true);
  });

  it("rejects a capacity that is not a positive integer", () => {
    expect(() => new BoundedQueue(0)).toThrow(RangeError);
    expect(() => new BoundedQueue(1.5)).toThrow(RangeError);
  });
});
