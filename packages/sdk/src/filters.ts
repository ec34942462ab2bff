import { eventParent, eventPolicyName, eventProcess, eventType } from "./event-parts.js";
import { FilterError } from "./filter-error.js";
import type { EventType, Filter, GetEventsResponse } from "./gen/tetragon/events_pb.js";
import type { Process } from "./gen/tetragon/tetragon_pb.js";
import { parseLabelSelector } from "./label-selector.js";
import { compileAnyRegex } from "./regex.js";

/** A compiled allow/deny decision for one event. */
export type EventPredicate = (event: GetEventsResponse) => boolean;

/**
 * Compiles GetEventsRequest allow/deny lists with Tetragon's semantics (pkg/filters): an
 * event passes when (the allow list is empty OR any allow Filter matches) AND no deny Filter
 * matches. Everything (regexes, selectors) is compiled here, once per request, so the
 * per-event cost is only the checks themselves. Throws FilterError for invalid or
 * unsupported filters.
 */
export function compileFilters(allowList: readonly Filter[], denyList: readonly Filter[]): EventPredicate {
  const allow = allowList.map(compileFilter);
  const deny = denyList.map(compileFilter);
  if (allow.length === 0 && deny.length === 0) return () => true;
  return (event) => (allow.length === 0 || allow.some((p) => p(event))) && !deny.some((p) => p(event));
}

/**
 * One Filter: every set field must match (AND); within a repeated field any value may match
 * (OR); a Filter with nothing set matches every event. Process-based checks never match
 * events that carry no process.
 */
export function compileFilter(filter: Filter): EventPredicate {
  rejectUnsupported(filter);
  const checks: EventPredicate[] = [];
  const onProcess = (test: (p: Process) => boolean): void => {
    checks.push((event) => {
      const p = eventProcess(event);
      return p !== undefined && test(p);
    });
  };
  const regexOn = (
    patterns: readonly string[],
    field: string,
    value: (p: Process) => string | undefined,
  ): void => {
    if (patterns.length === 0) return;
    const matches = rememberLast(compileAnyRegex(patterns, field));
    onProcess((p) => {
      const v = value(p);
      return v !== undefined && matches(v);
    });
  };

  regexOn(filter.binaryRegex, "binary_regex", (p) => p.binary);
  if (filter.namespace.length > 0) {
    // "" stands for host processes, i.e. processes with no pod (what `tetra --host` sends).
    const namespaces = new Set(filter.namespace);
    onProcess((p) => namespaces.has(p.pod?.namespace ?? ""));
  }
  if (filter.healthCheck !== undefined) {
    const wanted = filter.healthCheck;
    checks.push((event) => {
      const p = eventProcess(event);
      if (p === undefined) return false;
      const probe = maybeExecProbe(p) || maybeExecProbe(eventParent(event));
      return probe === wanted;
    });
  }
  if (filter.pid.length > 0) {
    const pids = new Set(filter.pid);
    onProcess((p) => p.pid !== undefined && pids.has(p.pid));
  }
  if (filter.eventSet.length > 0) {
    const types = new Set<EventType>(filter.eventSet);
    checks.push((event) => types.has(eventType(event)));
  }
  regexOn(filter.podRegex, "pod_regex", (p) => p.pod?.name);
  regexOn(filter.argumentsRegex, "arguments_regex", (p) => p.arguments);
  if (filter.labels.length > 0) {
    const selectors = filter.labels.map((s) => parseLabelSelector(s, "labels"));
    // Host processes have no labels at all, so a label filter never selects them.
    onProcess((p) => p.pod !== undefined && selectors.some((s) => s(p.pod?.podLabels ?? {})));
  }
  if (filter.policyNames.length > 0) {
    const names = new Set(filter.policyNames);
    checks.push((event) => {
      const name = eventPolicyName(event);
      return name !== undefined && names.has(name);
    });
  }
  if (filter.parentBinaryRegex.length > 0) {
    const matches = rememberLast(compileAnyRegex(filter.parentBinaryRegex, "parent_binary_regex"));
    checks.push((event) => {
      const parent = eventParent(event);
      return parent !== undefined && matches(parent.binary);
    });
  }
  if (filter.parentArgumentsRegex.length > 0) {
    const matches = rememberLast(compileAnyRegex(filter.parentArgumentsRegex, "parent_arguments_regex"));
    checks.push((event) => {
      const parent = eventParent(event);
      return parent !== undefined && matches(parent.arguments);
    });
  }
  regexOn(filter.containerId, "container_id", (p) => p.docker);
  if (filter.inInitTree !== undefined) {
    const wanted = filter.inInitTree;
    // A missing in_init_tree counts as false, as upstream's GetValue() does.
    onProcess((p) => (p.inInitTree ?? false) === wanted);
  }
  regexOn(filter.containerNameRegex, "container_name_regex", (p) => p.pod?.container?.name);
  regexOn(filter.namespaceRegex, "namespace_regex", (p) => p.pod?.namespace);

  if (checks.length === 0) return () => true;
  return (event) => checks.every((c) => c(event));
}

/**
 * A regex test that answers a repeat of its last input without running again: a listener's
 * filter sees the same binary in every event of a flood, once per event per listener.
 */
function rememberLast(test: (value: string) => boolean): (value: string) => boolean {
  let last: string | undefined;
  let answer = false;
  return (value) => {
    if (value !== last) {
      answer = test(value);
      last = value;
    }
    return answer;
  };
}

function maybeExecProbe(p: Process | undefined): boolean {
  return p?.pod?.container?.maybeExecProbe === true;
}

// Silently ignoring these would widen what a client sees (an allow filter would match
// everything, a deny filter nothing), so they are refused instead.
function rejectUnsupported(filter: Filter): void {
  const unsupported = (field: string): never => {
    throw new FilterError(field, `the ${field} filter is not supported by nsguard`);
  };
  if (filter.pidSet.length > 0) unsupported("pid_set");
  if (filter.capabilities !== undefined) unsupported("capabilities");
  if (filter.celExpression.length > 0) unsupported("cel_expression");
  if (filter.ancestorBinaryRegex.length > 0) unsupported("ancestor_binary_regex");
}
