import { toBinary } from "@bufbuild/protobuf";
import { type GetEventsResponse, GetEventsResponseSchema } from "@nsguard/sdk";
import { binaryShell } from "./encoded-event.js";

/**
 * One published event, shared by every subscriber that receives it.
 *
 * Each event is encoded at most once, however many streams send it. When two or more
 * streams receive it, binary streams get the shell (see `encoded-event.ts`) over an encoding
 * computed here, lazily, once. When only one does, building the shell would be pure overhead
 * (splitting the bytes and copying them again cost more than the encoding saves), so that
 * stream gets the message itself and connect encodes it — still once.
 *
 * Invariant: `message` must not be mutated after publishing; subscribers that need a
 * different shape (field filters) work on a copy.
 */
export class HubEvent {
  readonly message: GetEventsResponse;
  /**
   * How many subscribers took the event. `EventHub.publish` sets it before any reader runs;
   * unknown (Infinity) for events built elsewhere, which then always use the shared encoding.
   */
  recipients = Number.POSITIVE_INFINITY;
  #bytes: Uint8Array | undefined;
  #shell: GetEventsResponse | undefined;

  constructor(message: GetEventsResponse) {
    this.message = message;
  }

  /** `toBinary(GetEventsResponseSchema, message)`, computed on first use. */
  get bytes(): Uint8Array {
    this.#bytes ??= toBinary(GetEventsResponseSchema, this.message);
    return this.#bytes;
  }

  /** A message whose binary serialisation is {@link bytes}; for binary protocols only. */
  get shell(): GetEventsResponse {
    this.#shell ??= binaryShell(this.bytes);
    return this.#shell;
  }

  /**
   * What a stream should yield: for binary protocols the shell when the event is shared, for
   * JSON protocols (and a single recipient) the real message.
   */
  forWire(binary: boolean): GetEventsResponse {
    return binary && this.recipients > 1 ? this.shell : this.message;
  }
}
