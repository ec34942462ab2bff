import { once } from "node:events";
import type * as http2 from "node:http2";
import { fromBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { GetEventsRequestSchema } from "@nsguard/sdk";
import { compileGetEventsRequest } from "./get-events.js";
import { encodeEvent, type HubEvent } from "./hub-event.js";
import type { EventSource } from "./interfaces.js";

export const GET_EVENTS_PATH = "/tetragon.FineGuidanceSensors/GetEvents";

/**
 * At most about this many bytes of events go into one write (an event larger than that goes
 * alone). Everything that piled up goes out in as few writes as this allows; the bound keeps
 * what node's http2 buffers for a client that stopped reading small next to the queue's own
 * bound, since nothing more is written until that write has drained.
 */
const MAX_BYTES_PER_WRITE = 1 << 20;

/**
 * GetEvents over gRPC (HTTP/2, application/grpc[+proto]) without connect's per-message path.
 *
 * Everything else — other RPCs, the Connect and gRPC-Web protocols, GetEvents as JSON — goes
 * through connect. This one stream is the agent's hot path: connect serialises, frames and
 * writes each message on its own (~50 µs per event on our 2-core CI machines, the cap of the
 * whole pipeline), while here every event that piled up while the previous write was in flight
 * goes out in one write, as the pre-encoded bytes the hub made once. The wire is plain gRPC: a
 * 5-byte prefix per message, `grpc-status` in trailers, a trailers-only response for errors.
 */
export function isGrpcGetEvents(req: http2.Http2ServerRequest): boolean {
  const type = req.headers["content-type"];
  return (
    req.url === GET_EVENTS_PATH &&
    req.method === "POST" &&
    (type === "application/grpc" || type === "application/grpc+proto")
  );
}

export async function serveGrpcGetEvents(
  req: http2.Http2ServerRequest,
  res: http2.Http2ServerResponse,
  events: EventSource,
  shutdown: AbortSignal,
  limits: {
    queueSize?: number | undefined;
    queueBytes?: number | undefined;
    writeMaxBytes?: number | undefined;
  } = {},
): Promise<void> {
  // The compat response (not res.stream) throughout: it owns the stream's trailers.
  const end = (code: Code, message: string) => {
    if (res.writableEnded || res.stream.destroyed) return;
    if (!res.headersSent) res.writeHead(200, { "content-type": "application/grpc+proto" });
    res.addTrailers({ "grpc-status": String(code), "grpc-message": encodeURIComponent(message) });
    res.end();
  };

  let request: ReturnType<typeof compileGetEventsRequest>;
  try {
    const body = await readBody(req);
    if (body.length < 5 || body.readUInt32BE(1) !== body.length - 5) {
      return end(Code.InvalidArgument, "GetEvents: the request must be exactly one gRPC message");
    }
    if (body[0] !== 0) {
      return end(Code.Unimplemented, "GetEvents: compressed requests are not supported");
    }
    request = compileGetEventsRequest(fromBinary(GetEventsRequestSchema, body.subarray(5)));
  } catch (err) {
    const e = ConnectError.from(err, Code.InvalidArgument);
    return end(e.code, e.rawMessage);
  }

  const gone = new AbortController();
  const onShutdown = () => gone.abort();
  shutdown.addEventListener("abort", onShutdown, { once: true });
  res.once("close", () => gone.abort());
  const subscription = events.subscribe({
    filter: request.filter,
    signal: gone.signal,
    queueSize: limits.queueSize,
    queueBytes: limits.queueBytes,
    label: `grpc GetEvents ${req.headers["user-agent"] ?? ""}`.trim(),
  });
  const iterator = subscription[Symbol.asyncIterator]();
  const drain =
    "drain" in subscription
      ? (subscription.drain as (max: number, maxBytes: number) => HubEvent[])
      : undefined;

  // The subscription only ends by itself when the server shuts down (or the client left).
  let status: { code: Code; message: string } = {
    code: Code.Unavailable,
    message: "server is shutting down",
  };
  res.writeHead(200, { "content-type": "application/grpc+proto" });
  res.write(new Uint8Array(0)); // sends the headers: the client sees the call accepted at once
  try {
    for (;;) {
      const first = await iterator.next();
      if (first.done || res.stream.destroyed) break;
      const budget = MAX_BYTES_PER_WRITE - first.value.bytes.byteLength;
      const rest = budget > 0 ? drain?.call(subscription, Number.POSITIVE_INFINITY, budget) : undefined;
      const batch = rest === undefined ? [first.value] : [first.value, ...rest];
      // Flow control: while the client has not taken the last write, write nothing more; events
      // wait (bounded, counted when lost) in the hub queue instead of in http2's buffers.
      if (!res.write(frames(batch, request.shape, limits.writeMaxBytes))) await drainedOrClosed(res);
    }
  } catch (err) {
    const e = ConnectError.from(err, Code.Internal);
    status = { code: e.code, message: e.rawMessage };
  } finally {
    shutdown.removeEventListener("abort", onShutdown);
    gone.abort();
    end(status.code, status.message);
  }
}

/** Flow control: resolves when the client has taken what was written, or has gone. */
async function drainedOrClosed(res: http2.Http2ServerResponse): Promise<void> {
  const done = new AbortController();
  try {
    await Promise.race([
      once(res, "drain", { signal: done.signal }),
      once(res, "close", { signal: done.signal }),
    ]);
  } finally {
    done.abort(); // removes the listener that did not fire
  }
}

/** The gRPC messages for a batch, as one buffer. */
function frames(
  batch: readonly HubEvent[],
  shape: ((e: HubEvent["message"]) => HubEvent["message"]) | undefined,
  writeMaxBytes = Number.POSITIVE_INFINITY,
) {
  const payloads = batch.map((event) => {
    const shaped = shape ? shape(event.message) : event.message;
    const bytes = shaped === event.message ? event.bytes : encodeEvent(shaped);
    if (bytes.byteLength > writeMaxBytes) {
      // connect's wording for the same limit, so both paths fail alike.
      throw new ConnectError(
        `message size ${bytes.byteLength} is larger than configured writeMaxBytes ${writeMaxBytes}`,
        Code.ResourceExhausted,
      );
    }
    return bytes;
  });
  const out = Buffer.allocUnsafe(payloads.reduce((n, p) => n + 5 + p.byteLength, 0));
  let at = 0;
  for (const payload of payloads) {
    out[at] = 0; // not compressed
    out.writeUInt32BE(payload.byteLength, at + 1);
    out.set(payload, at + 5);
    at += 5 + payload.byteLength;
  }
  return out;
}

async function readBody(req: http2.Http2ServerRequest): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 4 << 20) throw new ConnectError("GetEvents: request too large", Code.ResourceExhausted);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
