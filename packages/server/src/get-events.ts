import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import {
  compileFieldFilters,
  compileFilters,
  type GetEventsRequest,
  type GetEventsResponse,
} from "@nsguard/sdk";
import { isBinaryContentType } from "./encoded-event.js";
import type { EventSource } from "./interfaces.js";

export interface GetEventsOptions {
  /** Per-stream queue size; the source's default when unset. */
  queueSize?: number | undefined;
  /** Per-stream queue bound in encoded bytes; the source's default when unset. */
  queueBytes?: number | undefined;
}

/**
 * The GetEvents implementation (Tetragon pkg/server GetEventsListener): compile the request's
 * allow/deny lists and field filters up front — a bad filter fails the call with
 * InvalidArgument before anything is registered — then subscribe with the compiled filter, so
 * the hub drops unwanted events before they are queued. The stream runs until the client
 * goes away (or the server shuts down); the handler context's signal then ends the
 * subscription and releases its queue.
 *
 * `aggregation_options` is accepted and ignored: Tetragon's aggregator forwards every event
 * unchanged.
 */
/** A GetEvents request's filters, compiled; shared by this handler and the gRPC fast path. */
export interface CompiledGetEvents {
  filter: ((event: GetEventsResponse) => boolean) | undefined;
  shape: ((event: GetEventsResponse) => GetEventsResponse) | undefined;
}

/** Compiles the allow/deny lists and field filters; a bad one is a ConnectError InvalidArgument. */
export function compileGetEventsRequest(request: GetEventsRequest): CompiledGetEvents {
  try {
    return {
      filter:
        request.allowList.length > 0 || request.denyList.length > 0
          ? compileFilters(request.allowList, request.denyList)
          : undefined,
      shape: request.fieldFilters.length > 0 ? compileFieldFilters(request.fieldFilters) : undefined,
    };
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    throw new ConnectError(
      `invalid GetEvents filter: ${reason}`,
      Code.InvalidArgument,
      undefined,
      undefined,
      e,
    );
  }
}

export function createGetEventsHandler(events: EventSource, options: GetEventsOptions = {}) {
  return async function* getEvents(
    request: GetEventsRequest,
    context: HandlerContext,
  ): AsyncGenerator<GetEventsResponse, void, undefined> {
    const { filter, shape } = compileGetEventsRequest(request);

    // Binary codecs can take the shared pre-encoded shell, JSON codecs need the real
    // message: HubEvent.forWire decides (see hub-event.ts and encoded-event.ts).
    const binary = isBinaryContentType(context.requestHeader.get("content-type"));
    const subscription = events.subscribe({
      filter,
      signal: context.signal,
      queueSize: options.queueSize,
      queueBytes: options.queueBytes,
      label: `${context.protocolName} GetEvents ${context.requestHeader.get("user-agent") ?? ""}`.trim(),
    });
    for await (const event of subscription) {
      if (shape === undefined) {
        yield event.forWire(binary);
        continue;
      }
      // Field filters return the same object when no filter applies to the event type,
      // so those events can still use the shared encoding.
      const shaped = shape(event.message);
      yield shaped === event.message ? event.forWire(binary) : shaped;
    }
    // The subscription ended because the call's signal fired. If the client cancelled, nobody
    // reads this; if the server is shutting down, the client learns why (startServer aborts
    // with Unavailable, which gRPC clients treat as "retry elsewhere/later") instead of
    // seeing a clean end of stream.
    if (context.signal.aborted) {
      throw ConnectError.from(context.signal.reason, Code.Canceled);
    }
  };
}
