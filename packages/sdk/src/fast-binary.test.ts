import { create, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { createBinaryEncoder } from "./fast-binary.js";
import { GetEventsResponseSchema } from "./gen/tetragon/events_pb.js";
import { GetDebugResponseSchema, TracingPolicyStatusSchema } from "./gen/tetragon/sensors_pb.js";
import { ProcessSchema } from "./gen/tetragon/tetragon_pb.js";
import { seedEvent } from "./testing/seed-event.js";

describe("createBinaryEncoder", () => {
  const encode = createBinaryEncoder(GetEventsResponseSchema);

  it("writes exactly toBinary's bytes for the seed event", () => {
    const ev = seedEvent();
    expect(encode(ev)).toEqual(toBinary(GetEventsResponseSchema, ev));
  });

  it("matches toBinary on wrappers at zero, 64-bit ints, repeated, maps, oneofs, enums and unknown fields", () => {
    const ev = create(GetEventsResponseSchema, {
      event: {
        case: "processKprobe",
        value: {
          process: {
            pid: 0,
            uid: 0,
            inInitTree: false,
            refcnt: 0,
            cap: { permitted: [0, 1, 21], effective: [] },
          },
          args: [
            { arg: { case: "sizeArg", value: 18446744073709551615n } },
            { arg: { case: "longArg", value: -5n } },
            { arg: { case: "intArg", value: -1 }, label: "fd" },
            { arg: { case: "bytesArg", value: new Uint8Array([0, 1, 2]) } },
            { arg: { case: "intArg", value: 0 } },
            {
              arg: { case: "userNsArg", value: { level: 0, uid: 7, ns: { inum: 4026531837, isHost: true } } },
            },
          ],
          action: 3,
          tags: ["a", "b"],
          kernelStackTrace: [{ address: 1n, offset: 0n, symbol: "x" }],
        },
      },
      nodeName: "n",
      nodeLabels: { zone: "a", "kubernetes.io/arch": "amd64" },
      time: { seconds: 1n, nanos: 5 },
      aggregationInfo: { count: 0n },
    });
    ev.$unknown = [{ no: 50000, wireType: 0, data: new Uint8Array([42]) }];
    expect(encode(ev)).toEqual(toBinary(GetEventsResponseSchema, ev));
  });

  it("with memoize, copies a shared sub-message's cached body: same bytes, and encoded once per object", () => {
    const memoized = createBinaryEncoder(GetEventsResponseSchema, { memoize: [ProcessSchema] });
    const ev = seedEvent();
    expect(memoized(ev)).toEqual(toBinary(GetEventsResponseSchema, ev));
    // A second event sharing the process object reuses the first encoding, which is why shared
    // messages must never change after publishing: the stale bytes below show the cache is hit.
    const kprobe = ev.event.case === "processKprobe" ? ev.event.value : undefined;
    if (!kprobe?.process) throw new Error("the seed event is a kprobe event with a process");
    const original = toBinary(GetEventsResponseSchema, ev);
    kprobe.process.binary = "/changed";
    expect(memoized(ev)).toEqual(original);
    // A new object is a new cache entry.
    kprobe.process = { ...kprobe.process };
    expect(memoized(ev)).toEqual(toBinary(GetEventsResponseSchema, ev));
  });

  it("matches toBinary on other messages (explicit presence, maps of int32, nested lists)", () => {
    const status = create(TracingPolicyStatusSchema, {
      id: 5n,
      name: "p",
      sensors: ["generic_kprobe"],
      stats: { actionCounters: { post: 3n, signal: 0n } },
      hookStatuses: [{ section: "kprobe", state: 1, hookIdx: 0 }],
    });
    expect(createBinaryEncoder(TracingPolicyStatusSchema)(status)).toEqual(
      toBinary(TracingPolicyStatusSchema, status),
    );
    const debug = create(GetDebugResponseSchema, {
      flag: 1,
      arg: {
        case: "processes",
        value: {
          processes: [{ process: { pid: 1 }, refcnt: 2, refcntOps: { "process++": 1, "parent--": -1 } }],
        },
      },
    });
    expect(createBinaryEncoder(GetDebugResponseSchema)(debug)).toEqual(
      toBinary(GetDebugResponseSchema, debug),
    );
  });
});
