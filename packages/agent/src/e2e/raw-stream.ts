import * as http2 from "node:http2";
import { create, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { GetEventsRequestSchema, type GetEventsResponse, GetEventsResponseSchema } from "@nsguard/sdk";

/**
 * A GetEvents stream over plain node:http2 and gRPC framing (what any gRPC client sends: h2c
 * prior knowledge, application/grpc, te: trailers), for the load tests:
 * - it counts messages without decoding them, so it keeps up with rates the SDK client cannot;
 * - `matching` keeps only the payloads that contain a byte string (e.g. a binary's name) for
 *   decoding later;
 * - with `read: false` it never consumes data, so HTTP/2 flow control stalls the server's
 *   stream: a stalled client.
 */
export interface RawEventStream {
  readonly count: () => number;
  /** Decoded messages whose payload contained `matching`. */
  readonly matched: () => GetEventsResponse[];
  close(): void;
}

export function openRawEventStream(
  url: string,
  request: MessageInitShape<typeof GetEventsRequestSchema>,
  options: { read?: boolean; matching?: string } = {},
): RawEventStream {
  const session = http2.connect(url);
  session.on("error", () => undefined); // the test closes it; a reset is expected then
  const stream = session.request({
    ":method": "POST",
    ":path": "/tetragon.FineGuidanceSensors/GetEvents",
    "content-type": "application/grpc+proto",
    te: "trailers",
  });
  stream.on("error", () => undefined);
  const body = toBinary(GetEventsRequestSchema, create(GetEventsRequestSchema, request));
  const frame = Buffer.alloc(5 + body.length);
  frame.writeUInt32BE(body.length, 1);
  frame.set(body, 5);
  stream.end(frame);

  const needle = options.matching !== undefined ? Buffer.from(options.matching) : undefined;
  const kept: Uint8Array[] = [];
  let count = 0;
  let pending: Buffer = Buffer.alloc(0);
  if (options.read === false) {
    stream.pause();
  } else {
    stream.on("data", (chunk: Buffer) => {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      let at = 0;
      while (pending.length - at >= 5) {
        const length = pending.readUInt32BE(at + 1);
        if (pending.length - at < 5 + length) break;
        const payload = pending.subarray(at + 5, at + 5 + length);
        if (needle && payload.includes(needle)) kept.push(new Uint8Array(payload));
        at += 5 + length;
        count++;
      }
      pending = pending.subarray(at);
    });
  }
  return {
    count: () => count,
    matched: () => kept.map((bytes) => fromBinary(GetEventsResponseSchema, bytes)),
    close: () => {
      stream.close(http2.constants.NGHTTP2_CANCEL);
      session.destroy();
    },
  };
}
