import { create, equals, fromBinary, toBinary, toJson } from "@bufbuild/protobuf";
import { GetEventsResponseSchema } from "@nsguard/sdk";
import { describe, expect, it } from "vitest";
import { binaryShell, isBinaryContentType, splitTopLevelFields } from "./encoded-event.js";
import { HubEvent } from "./hub-event.js";
import { sampleExecEvent, sampleKprobeEvent } from "./testing/events.js";

describe("binaryShell", () => {
  const events = [
    sampleKprobeEvent(1, { namespace: "prod", padding: 300 }),
    sampleKprobeEvent(2),
    sampleExecEvent(3),
    create(GetEventsResponseSchema),
    create(GetEventsResponseSchema, { nodeName: "only-a-node-name" }),
  ];

  it("serialises to exactly the original encoding", () => {
    for (const event of events) {
      const bytes = toBinary(GetEventsResponseSchema, event);
      const shell = binaryShell(bytes);
      expect(Buffer.from(toBinary(GetEventsResponseSchema, shell)).equals(Buffer.from(bytes))).toBe(true);
      expect(
        equals(
          GetEventsResponseSchema,
          fromBinary(GetEventsResponseSchema, toBinary(GetEventsResponseSchema, shell)),
          event,
        ),
      ).toBe(true);
    }
  });

  it("keeps every top-level field, map entries included, as views into the encoding", () => {
    const event = sampleKprobeEvent(1);
    const bytes = toBinary(GetEventsResponseSchema, event);
    const fields = splitTopLevelFields(bytes);
    // process_kprobe(9), node_name(1000), time(1001), two node_labels(1004) entries.
    expect(fields.map((f) => f.no).sort((a, b) => a - b)).toEqual([9, 1000, 1001, 1004, 1004]);
    for (const f of fields) expect(f.data.buffer).toBe(bytes.buffer);
  });

  it("has no known fields, so it must never reach JSON", () => {
    const shell = binaryShell(toBinary(GetEventsResponseSchema, sampleKprobeEvent(1)));
    expect(toJson(GetEventsResponseSchema, shell)).toEqual({});
  });
});

describe("HubEvent", () => {
  it("encodes once and hands binary streams the shell, JSON streams the message", () => {
    const event = new HubEvent(sampleKprobeEvent(5));
    expect(event.bytes).toBe(event.bytes);
    expect(event.shell).toBe(event.shell);
    expect(event.forWire(true)).toBe(event.shell);
    expect(event.forWire(false)).toBe(event.message);
  });

  it("encodes exactly what toBinary gives", () => {
    const event = new HubEvent(sampleKprobeEvent(5));
    expect(event.bytes).toEqual(toBinary(GetEventsResponseSchema, event.message));
  });
});

describe("isBinaryContentType", () => {
  it.each([
    ["application/grpc", true],
    ["application/grpc+proto", true],
    ["application/grpc-web", true],
    ["application/grpc-web+proto", true],
    ["application/grpc-web-text", true],
    ["application/connect+proto", true],
    ["application/proto", true],
    ["Application/GRPC+Proto; charset=utf-8", true],
    ["application/grpc+json", false],
    ["application/grpc-web+json", false],
    ["application/connect+json", false],
    ["application/json", false],
    ["application/grpc+cbor", false],
    ["", false],
    [null, false],
  ])("%s → %s", (contentType, binary) => {
    expect(isBinaryContentType(contentType)).toBe(binary);
  });
});
