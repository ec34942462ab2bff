import type { MessageInitShape } from "@bufbuild/protobuf";
import { type CallOptions, type Client, Code, ConnectError } from "@connectrpc/connect";
import type { GetEventsRequestSchema, GetEventsResponse } from "./gen/tetragon/events_pb.js";
import type { FineGuidanceSensors } from "./gen/tetragon/sensors_pb.js";

/** How {@link streamEvents} waits between reconnect attempts: exponential backoff with jitter. */
export interface BackoffOptions {
  /** Wait before the first reconnect attempt, in ms. Default 250. */
  initialDelayMs?: number;
  /** Upper bound of the wait, in ms. Default 30 000. */
  maxDelayMs?: number;
  /** Factor applied to the wait after each failed attempt. Default 2. */
  multiplier?: number;
  /**
   * Fraction of the wait that is randomized (0 = none, 0.2 = ±20 %), so that many clients
   * dropped together do not reconnect in lockstep. Default 0.2.
   */
  jitter?: number;
  /**
   * Consecutive failed attempts (without an event received in between) after which the last
   * error is thrown. Default: unlimited.
   */
  maxAttempts?: number;
}

/** What {@link StreamEventsOptions.onReconnect} is told before each wait. */
export interface ReconnectInfo {
  /** 1 for the first attempt after a drop, counting up while attempts keep failing. */
  readonly attempt: number;
  /** How long the stream waits before this attempt, in ms. */
  readonly delayMs: number;
  /** Why the stream ended: a ConnectError, or `undefined` when the server ended it cleanly. */
  readonly error: ConnectError | undefined;
}

/** Options of {@link streamEvents}. */
export interface StreamEventsOptions {
  /** Ends the stream: the iterator returns (it does not throw) once this signal aborts. */
  signal?: AbortSignal;
  /**
   * Reconnect after the stream drops. `true` (the default) uses the default
   * {@link BackoffOptions}; `false` throws the first error instead.
   */
  reconnect?: boolean | BackoffOptions;
  /** Called before each reconnect wait, e.g. for logging. */
  onReconnect?: (info: ReconnectInfo) => void;
  /** Per-call headers, e.g. authentication. */
  headers?: CallOptions["headers"];
}

/**
 * Codes after which a new attempt can succeed: the agent is down or restarting, the
 * connection broke, or the server dropped a client that fell behind. Anything else — a bad
 * filter (InvalidArgument), PermissionDenied, Unimplemented, … — would fail again the same
 * way, so it is thrown.
 */
const RETRYABLE_CODES: ReadonlySet<Code> = new Set([
  Code.Unavailable,
  Code.Unknown,
  Code.Internal,
  Code.Aborted,
  Code.Canceled,
  Code.DeadlineExceeded,
  Code.ResourceExhausted,
]);

const DEFAULT_BACKOFF: Required<BackoffOptions> = {
  initialDelayMs: 250,
  maxDelayMs: 30_000,
  multiplier: 2,
  jitter: 0.2,
  maxAttempts: Number.POSITIVE_INFINITY,
};

/**
 * Streams `GetEvents` as an async iterable that survives agent restarts.
 *
 * When the stream drops (the agent restarts, the connection breaks, the server drops a client
 * that fell behind), it is opened again with the same request after an exponential backoff;
 * the wait resets as soon as an event arrives. Events published while no stream was open
 * are **not replayed**: the agent keeps no history, so a consumer sees a gap (tell it with
 * `onReconnect`). Errors that a retry cannot fix (an invalid filter, a refused permission)
 * are thrown. Aborting `signal` — or leaving the `for await` loop — ends the stream.
 *
 * Works with any transport: {@link createNsguardClient} (gRPC, Node) or
 * `createNsguardWebClient` from `@nsguard/sdk/web` (gRPC-Web/Connect, browsers).
 *
 * @example
 * ```ts
 * const abort = new AbortController();
 * const request = { allowList: [filter().eventTypes(EventType.PROCESS_KPROBE).build()] };
 * for await (const event of streamEvents(createNsguardClient(), request, { signal: abort.signal })) {
 *   console.log(toCompact(event));
 * }
 * ```
 */
export async function* streamEvents(
  client: Client<typeof FineGuidanceSensors>,
  request: MessageInitShape<typeof GetEventsRequestSchema> = {},
  options: StreamEventsOptions = {},
): AsyncGenerator<GetEventsResponse, void, undefined> {
  const backoff: Required<BackoffOptions> | undefined =
    options.reconnect === false
      ? undefined
      : { ...DEFAULT_BACKOFF, ...(options.reconnect === true ? {} : options.reconnect) };
  // The calls run under a signal of our own, aborted in `finally`: leaving the loop early
  // must cancel the open call, or a fetch-based (web) transport keeps its connection and
  // the process alive.
  const ours = new AbortController();
  const signal = ours.signal;
  const abort = () => ours.abort(options.signal?.reason);
  if (options.signal?.aborted) abort();
  options.signal?.addEventListener("abort", abort, { once: true });
  let attempt = 0;
  let delayMs = backoff?.initialDelayMs ?? 0;
  try {
    while (!signal.aborted) {
      let error: ConnectError | undefined;
      try {
        for await (const event of client.getEvents(request, { signal, headers: options.headers })) {
          // A delivered event means the connection works: the next drop starts over.
          attempt = 0;
          delayMs = backoff?.initialDelayMs ?? 0;
          yield event;
        }
      } catch (err) {
        if (signal.aborted) return;
        error = ConnectError.from(err);
        if (backoff === undefined || !RETRYABLE_CODES.has(error.code)) throw error;
      }
      // The stream ended: with an error, or cleanly (the server shut down; GetEvents never
      // ends on its own).
      if (backoff === undefined) {
        if (error !== undefined) throw error;
        return;
      }
      attempt += 1;
      if (attempt > backoff.maxAttempts) {
        throw error ?? new ConnectError("GetEvents stream ended", Code.Unavailable);
      }
      const wait = jittered(delayMs, backoff.jitter);
      options.onReconnect?.({ attempt, delayMs: wait, error });
      await sleep(wait, signal);
      delayMs = Math.min(delayMs * backoff.multiplier, backoff.maxDelayMs);
    }
  } finally {
    options.signal?.removeEventListener("abort", abort);
    ours.abort();
  }
}

function jittered(ms: number, jitter: number): number {
  return Math.max(0, Math.round(ms * (1 + jitter * (2 * Math.random() - 1))));
}

/** Resolves after `ms`, or at once when `signal` aborts (the caller's loop then stops). */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
