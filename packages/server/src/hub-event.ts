import { toBinary } from "@bufbuild/protobuf";
import { type GetEventsResponse, GetEventsResponseSchema } from "@nsguard/sdk";
import { binaryShell } from "./encoded-event.js";

/**
 * One published event, shared by every subscriber that receives it.
 *
 * The binary encoding and the binary shell (see `encoded-event.ts`) are computed lazily and
 * at most once, however many streams send the event — and not at all when nobody listens in
 * a binary protocol.
 *
 * Invariant: `message` must not be mutated after publishing; subscribers that need a
 * different shape (field filters) work on a copy.
 */
export class HubEvent {
  readonly message: GetEventsResponse;
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

  /** What a stream should yield: the shell for binary protocols, the real message for JSON. */
  forWire(binary: boolean): GetEventsResponse {
    return binary ? this.shell : this.message;
  }
}
