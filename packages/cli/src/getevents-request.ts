import { create } from "@bufbuild/protobuf";
import type { GetEventsRequest } from "@nsguard/sdk";
import { EventType, FieldFilterAction, FilterSchema, GetEventsRequestSchema } from "@nsguard/sdk";

/** The getevents flags that shape the request. */
export interface GetEventsFilterFlags {
  host?: boolean;
  namespace?: string[];
  namespaceRegex?: string[];
  pods?: string[];
  processes?: string[];
  containers?: string[];
  policyNames?: string[];
  /** Sent as Filter.cel_expression; the agent evaluates it. */
  celExpression?: string[];
  eventTypes?: string[];
  includeFields?: string[];
  excludeFields?: string[];
}

/**
 * Builds the GetEventsRequest the way tetra does: all flags combine into a single Filter in
 * allow_list (the deny list is never used), and -f/-F become one INCLUDE / EXCLUDE
 * FieldFilter each.
 */
export function buildGetEventsRequest(flags: GetEventsFilterFlags): GetEventsRequest {
  const namespace = [...(flags.namespace ?? []), ...(flags.host ? [""] : [])];
  const filter = create(FilterSchema, {
    namespace,
    namespaceRegex: flags.namespaceRegex ?? [],
    podRegex: flags.pods ?? [],
    binaryRegex: flags.processes ?? [],
    containerNameRegex: flags.containers ?? [],
    policyNames: flags.policyNames ?? [],
    celExpression: flags.celExpression ?? [],
    eventSet: (flags.eventTypes ?? []).map(parseEventType),
  });
  const hasFilter = Object.values(filter).some((v) => Array.isArray(v) && v.length > 0);
  const fieldFilters = [
    ...(flags.includeFields?.length
      ? [{ action: FieldFilterAction.INCLUDE, fields: { paths: flags.includeFields } }]
      : []),
    ...(flags.excludeFields?.length
      ? [{ action: FieldFilterAction.EXCLUDE, fields: { paths: flags.excludeFields } }]
      : []),
  ];
  return create(GetEventsRequestSchema, { allowList: hasFilter ? [filter] : [], fieldFilters });
}

/** Accepts EventType names in any case, with or without underscores' original spelling (PROCESS_EXEC, process_exec). */
export function parseEventType(name: string): EventType {
  const key = name.trim().toUpperCase() as keyof typeof EventType;
  const value = EventType[key];
  if (typeof value !== "number" || value === EventType.UNDEF) {
    const known = Object.keys(EventType).filter((k) => Number.isNaN(Number(k)) && k !== "UNDEF");
    throw new Error(`unknown event type ${JSON.stringify(name)} (known: ${known.join(", ")})`);
  }
  return value;
}
