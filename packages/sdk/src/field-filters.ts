import type { DescField, DescMessage } from "@bufbuild/protobuf";
import { clone } from "@bufbuild/protobuf";
import type { ReflectMessage } from "@bufbuild/protobuf/reflect";
import { reflect } from "@bufbuild/protobuf/reflect";
import { eventType } from "./event-parts.js";
import { FilterError } from "./filter-error.js";
import type { EventType, FieldFilter, GetEventsResponse } from "./gen/tetragon/events_pb.js";
import { FieldFilterAction, GetEventsResponseSchema } from "./gen/tetragon/events_pb.js";

/** Applies a request's field filters to one event; returns the (possibly new) event to send. */
export type FieldFilterFn = (event: GetEventsResponse) => GetEventsResponse;

// A field mask as a tree: each path segment maps to the mask below it; an empty subtree
// means "this whole field".
type MaskTree = Map<string, MaskTree>;

interface CompiledFieldFilter {
  appliesTo(type: EventType): boolean;
  action: FieldFilterAction;
  mask: MaskTree;
}

// Inner event message types by EventType, for validating paths at compile time.
const eventOneof = GetEventsResponseSchema.oneofs.find((o) => o.name === "event");
const innerMessages = new Map<number, DescMessage>(
  (eventOneof?.fields ?? []).flatMap((f) =>
    f.message === undefined ? [] : [[f.number, f.message] as const],
  ),
);

/**
 * Compiles GetEventsRequest.field_filters (Tetragon pkg/fieldfilters semantics). Paths are
 * snake_case and relative to the inner event (e.g. `process.pod.name`); top-level fields
 * such as node_name and time are never touched. INCLUDE keeps only the listed paths,
 * EXCLUDE removes them; filters run in order, so an exclusion always wins over an earlier
 * inclusion. A filter with a non-empty event_set applies only to those types, or to every
 * other type when invert_event_set is true.
 *
 * The input event is never mutated: the server shares one message among all clients, so a
 * filtered event is a clone, and an event no filter applies to is returned as is.
 */
export function compileFieldFilters(filters: readonly FieldFilter[]): FieldFilterFn {
  const compiled = filters.map(compileOne).filter((f) => f.mask.size > 0);
  if (compiled.length === 0) return (event) => event;
  return (event) => {
    const type = eventType(event);
    const applicable = compiled.filter((f) => f.appliesTo(type));
    if (applicable.length === 0 || event.event.case === undefined || eventOneof === undefined) return event;
    const copy = clone(GetEventsResponseSchema, event);
    const top = reflect(GetEventsResponseSchema, copy);
    const field = top.oneofCase(eventOneof);
    if (field === undefined || field.fieldKind !== "message") return copy;
    const innerMsg = top.get(field) as ReflectMessage;
    for (const f of applicable) {
      if (f.action === FieldFilterAction.EXCLUDE) exclude(innerMsg, f.mask);
      else include(innerMsg, f.mask);
    }
    return copy;
  };
}

function compileOne(filter: FieldFilter): CompiledFieldFilter {
  const types = new Set<EventType>(filter.eventSet);
  const invert = filter.invertEventSet ?? false;
  const appliesTo = (type: EventType): boolean => types.size === 0 || types.has(type) !== invert;
  const mask: MaskTree = new Map();
  const candidates = [...innerMessages].filter(([n]) => appliesTo(n as EventType)).map(([, m]) => m);
  for (const path of filter.fields?.paths ?? []) {
    const segments = path.split(".");
    if (path === "" || segments.some((s) => s === "")) {
      throw new FilterError("field_filters", `invalid field path ${JSON.stringify(path)}`);
    }
    // A typo would otherwise silently strip (INCLUDE) or keep (EXCLUDE) everything.
    if (!candidates.some((m) => resolves(m, segments))) {
      throw new FilterError(
        "field_filters",
        `field path ${JSON.stringify(path)} names no field of the selected event types`,
      );
    }
    let node = mask;
    for (const s of segments) {
      let next = node.get(s);
      if (next === undefined) {
        next = new Map();
        node.set(s, next);
      }
      node = next;
    }
  }
  // "process" and "process.pid" together mean all of process.
  collapse(mask, filter.fields?.paths ?? []);
  return { appliesTo, action: filter.action, mask };
}

function collapse(mask: MaskTree, paths: readonly string[]): void {
  for (const path of paths) {
    let node: MaskTree | undefined = mask;
    for (const s of path.split(".")) node = node?.get(s);
    node?.clear();
  }
}

function findField(desc: DescMessage, segment: string): DescField | undefined {
  return desc.fields.find((f) => f.name === segment || f.jsonName === segment);
}

function resolves(desc: DescMessage, segments: readonly string[]): boolean {
  const [head, ...rest] = segments;
  if (head === undefined) return true;
  const field = findField(desc, head);
  if (field === undefined) return false;
  if (rest.length === 0) return true;
  switch (field.fieldKind) {
    case "message":
      return resolves(field.message, rest);
    case "list":
      return field.listKind === "message" && resolves(field.message, rest);
    case "map":
      // The next segment is a map key; anything below it must resolve in the value type.
      return rest.length === 1 || (field.mapKind === "message" && resolves(field.message, rest.slice(1)));
    default:
      return false;
  }
}

function subMask(mask: MaskTree, field: DescField): MaskTree | undefined {
  return mask.get(field.name) ?? mask.get(field.jsonName);
}

function include(msg: ReflectMessage, mask: MaskTree): void {
  for (const field of msg.fields) {
    const sub = subMask(mask, field);
    if (sub === undefined) msg.clear(field);
    else if (sub.size > 0) descend(msg, field, sub, include, true);
  }
}

function exclude(msg: ReflectMessage, mask: MaskTree): void {
  for (const field of msg.fields) {
    const sub = subMask(mask, field);
    if (sub === undefined) continue;
    if (sub.size === 0) msg.clear(field);
    else descend(msg, field, sub, exclude, false);
  }
}

function descend(
  msg: ReflectMessage,
  field: DescField,
  mask: MaskTree,
  apply: (m: ReflectMessage, mask: MaskTree) => void,
  keepListedOnly: boolean,
): void {
  if (!msg.isSet(field)) return;
  switch (field.fieldKind) {
    case "message":
      apply(msg.get(field), mask);
      return;
    case "list":
      if (field.listKind === "message")
        for (const item of msg.get(field)) apply(item as ReflectMessage, mask);
      return;
    case "map": {
      const map = msg.get(field);
      for (const [key, value] of [...map.entries()]) {
        const sub = mask.get(String(key));
        if (sub === undefined) {
          if (keepListedOnly) map.delete(key);
        } else if (sub.size === 0) {
          if (!keepListedOnly) map.delete(key);
        } else if (field.mapKind === "message") {
          apply(value as ReflectMessage, sub);
        }
      }
      return;
    }
    default:
      return;
  }
}
