import type { GetEventsResponse } from "./gen/tetragon/events_pb.js";
import { EventType, GetEventsResponseSchema } from "./gen/tetragon/events_pb.js";
import type { Process } from "./gen/tetragon/tetragon_pb.js";

// EventType values equal the field numbers of the `event` oneof (an invariant of the
// schema), so the mapping is read from the descriptor instead of being written twice.
const eventOneof = GetEventsResponseSchema.oneofs.find((o) => o.name === "event");
if (eventOneof === undefined) throw new Error("GetEventsResponse has no `event` oneof");
const typeByCase = new Map<string, EventType>(
  eventOneof.fields.map((f) => [f.localName, f.number as EventType]),
);

/** The EventType of the populated `event` oneof member, UNDEF when none is set. */
export function eventType(event: GetEventsResponse): EventType {
  const c = event.event.case;
  return c === undefined ? EventType.UNDEF : (typeByCase.get(c) ?? EventType.UNDEF);
}

/** The inner event message (e.g. the ProcessKprobe), or undefined when no event is set. */
export function innerEvent(event: GetEventsResponse): GetEventsResponse["event"]["value"] {
  return event.event.value;
}

/** The process an event is about; undefined for events that carry none (throttle, test, rate_limit_info). */
export function eventProcess(event: GetEventsResponse): Process | undefined {
  const e = event.event;
  switch (e.case) {
    case "processExec":
    case "processExit":
    case "processKprobe":
    case "processTracepoint":
    case "processUprobe":
    case "processLsm":
    case "processUsdt":
    case "processLoader":
      return e.value.process;
    default:
      return undefined;
  }
}

/** The parent of the event's process, when the event carries one. */
export function eventParent(event: GetEventsResponse): Process | undefined {
  const e = event.event;
  switch (e.case) {
    case "processExec":
    case "processExit":
    case "processKprobe":
    case "processTracepoint":
    case "processUprobe":
    case "processLsm":
    case "processUsdt":
    case "processLoader":
      return e.value.parent;
    default:
      return undefined;
  }
}

/** The policy that produced the event; undefined for event kinds that are not policy-driven. */
export function eventPolicyName(event: GetEventsResponse): string | undefined {
  const e = event.event;
  switch (e.case) {
    case "processKprobe":
    case "processTracepoint":
    case "processUprobe":
    case "processLsm":
    case "processUsdt":
      return e.value.policyName;
    default:
      return undefined;
  }
}

/** The ancestors Tetragon attaches to an event (nearest first); empty when it carries none. */
export function eventAncestors(event: GetEventsResponse): readonly Process[] {
  const e = event.event;
  switch (e.case) {
    case "processExec":
    case "processExit":
    case "processKprobe":
    case "processTracepoint":
    case "processUprobe":
    case "processLsm":
    case "processUsdt":
    case "processLoader":
      return e.value.ancestors;
    default:
      return [];
  }
}
