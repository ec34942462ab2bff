import {
  createBinaryEncoder,
  type GetEventsResponse,
  GetEventsResponseSchema,
  ProcessKprobeSchema,
  ProcessSchema,
} from "@nsguard/sdk";
import { binaryShell } from "./encoded-event.js";

// Process and ProcessKprobe bodies are memoised by object: the agent hands every event about the
// same process state the same Process object (parents are shared outright), and every repeat of
// the same call the same ProcessKprobe, so a flood from one process is encoded once and each
// event costs its envelope. Sound because published messages are never mutated (see below).
export const encodeEvent = createBinaryEncoder(GetEventsResponseSchema, {
  memoize: [ProcessSchema, ProcessKprobeSchema],
});

/** What the producer knows about an event besides its content; see {@link HubEvent}. */
export interface PublishMeta {
  /** The source the event belongs to (for the agent: its container's cgroup); 0 (the default) when unknown. */
  source?: number | undefined;
  /** True for enforcement events; default false. */
  priority?: boolean | undefined;
}

/**
 * One published event, shared by every subscriber that receives it.
 *
 * Each event is encoded at most once, however many streams send it: binary streams get the
 * shell (see `encoded-event.ts`) over an encoding computed here, lazily, once, with the SDK's
 * compiled encoder (byte-equal to toBinary, ~4x faster on the event hot path); serialising the
 * shell is a copy. JSON streams get the message itself.
 *
 * Invariant: `message` must not be mutated after publishing; subscribers that need a
 * different shape (field filters) work on a copy.
 */
export class HubEvent {
  readonly message: GetEventsResponse;
  /**
   * Where the event came from, for fair sharing of a full listener queue (for the agent: its
   * container's cgroup), 0 when unknown. Events of one source stay in order.
   */
  readonly source: number;
  /** Enforcement events (and the like): never lost at a listener queue before ordinary ones. */
  readonly priority: boolean;
  /** How many subscribers took the event (set by `EventHub.publish`; 0 for events built elsewhere). */
  recipients = 0;
  #bytes: Uint8Array | undefined;
  #shell: GetEventsResponse | undefined;

  constructor(message: GetEventsResponse, meta: PublishMeta = {}) {
    this.message = message;
    this.source = meta.source ?? 0;
    this.priority = meta.priority ?? false;
  }

  /** The message's binary encoding (what toBinary gives), computed on first use. */
  get bytes(): Uint8Array {
    this.#bytes ??= encodeEvent(this.message);
    return this.#bytes;
  }

  /** A message whose binary serialisation is {@link bytes}; for binary protocols only. */
  get shell(): GetEventsResponse {
    this.#shell ??= binaryShell(this.bytes);
    return this.#shell;
  }

  /** What a stream should yield: the shell for binary protocols, the message for JSON. */
  forWire(binary: boolean): GetEventsResponse {
    return binary ? this.shell : this.message;
  }
}
