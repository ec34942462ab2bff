import { compileCelExpressions } from "./cel.js";
import { eventAncestors, eventParent, eventPolicyName, eventProcess, eventType } from "./event-parts.js";
import { governed } from "./filter-budget.js";
import { FilterError } from "./filter-error.js";
import type { CapabilitiesType } from "./gen/tetragon/capabilities_pb.js";
import type { CapFilterSet, EventType, Filter, GetEventsResponse } from "./gen/tetragon/events_pb.js";
import type { Process } from "./gen/tetragon/tetragon_pb.js";
import { parseLabelSelector } from "./label-selector.js";
import { compileAnyRegex } from "./regex.js";

/** A compiled allow/deny decision for one event. */
export type EventPredicate = (event: GetEventsResponse) => boolean;

/**
 * Compiles GetEventsRequest allow/deny lists with Tetragon's semantics (pkg/filters): an
 * event passes when (the allow list is empty OR any allow Filter matches) AND no deny Filter
 * matches. Everything (regexes, selectors, CEL) is compiled here, once per request, so the
 * per-event cost is only the checks themselves, and each is bounded: regexes are RE2 (linear
 * time), CEL has an iteration budget. Throws FilterError for an invalid filter.
 */
export function compileFilters(allowList: readonly Filter[], denyList: readonly Filter[]): EventPredicate {
  const allow = allowList.map(compileFilter);
  const deny = denyList.map(compileFilter);
  if (allow.length === 0 && deny.length === 0) return () => true;
  const predicate: EventPredicate = (event) =>
    (allow.length === 0 || allow.some((p) => p(event))) && !deny.some((p) => p(event));
  // Cheap filters (the usual few short regexes and exact fields) are not metered: the two
  // clock reads would cost about as much as the filter.
  return [...allowList, ...denyList].some(isCostly) ? governed(predicate) : predicate;
}

/** Patterns plus selectors longer than this, or any CEL, make a filter metered. */
const COSTLY_PATTERN_CHARS = 1024;

function isCostly(filter: Filter): boolean {
  if (filter.celExpression.length > 0) return true;
  const patterns = [
    filter.binaryRegex,
    filter.podRegex,
    filter.argumentsRegex,
    filter.labels,
    filter.parentBinaryRegex,
    filter.parentArgumentsRegex,
    filter.containerId,
    filter.ancestorBinaryRegex,
    filter.containerNameRegex,
    filter.namespaceRegex,
  ].flat();
  return patterns.reduce((n, p) => n + p.length + 16, 0) > COSTLY_PATTERN_CHARS;
}

/**
 * One Filter: every set field must match (AND); within a repeated field any value may match
 * (OR); a Filter with nothing set matches every event. Process-based checks never match
 * events that carry no process.
 */
export function compileFilter(filter: Filter): EventPredicate {
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
  if (filter.pidSet.length > 0) checks.push(pidSetCheck(filter.pidSet));
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
  if (filter.capabilities !== undefined) {
    const { effective, inheritable, permitted } = filter.capabilities;
    const sets = [
      capSetCheck(effective, "capabilities.effective"),
      capSetCheck(inheritable, "capabilities.inheritable"),
      capSetCheck(permitted, "capabilities.permitted"),
    ];
    // A process without a cap field never matches (upstream filterByCaps).
    onProcess((p) => {
      const cap = p.cap;
      return (
        cap !== undefined && sets[0](cap.effective) && sets[1](cap.inheritable) && sets[2](cap.permitted)
      );
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
  if (filter.ancestorBinaryRegex.length > 0) {
    // Upstream matches any ancestor's binary. Tetragon refuses the filter when its agent does
    // not attach ancestors; here it also runs in the CLI over Tetragon's exported JSON, which
    // may carry them, so an event without ancestors simply does not match.
    const matches = compileAnyRegex(filter.ancestorBinaryRegex, "ancestor_binary_regex");
    checks.push((event) => eventAncestors(event).some((a) => matches(a.binary)));
  }
  if (filter.celExpression.length > 0) checks.push(compileCelExpressions(filter.celExpression));

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

/**
 * Tetragon's pid_set (pkg/filters/pidSet.go): the process is in the set, or its parent is, in
 * which case the process joins the set so that its own children match later. The learned set
 * belongs to this compiled filter (one per request) and only grows, as upstream's does; pids
 * are learned from the events this filter sees, in order.
 */
function pidSetCheck(roots: readonly number[]): EventPredicate {
  const members = new Set(roots);
  return (event) => {
    const pid = eventProcess(event)?.pid;
    if (pid === undefined) return false;
    if (members.has(pid)) return true;
    const ppid = eventParent(event)?.pid;
    if (ppid === undefined || !members.has(ppid)) return false;
    members.add(pid);
    return true;
  };
}

/**
 * One CapFilterSet (upstream pkg/filters/caps.go): unset matches anything; otherwise exactly
 * one of any (intersects), all (superset), exactly (equal as sets), none (disjoint) is set.
 */
function capSetCheck(
  set: CapFilterSet | undefined,
  field: string,
): (caps: readonly CapabilitiesType[]) => boolean {
  if (set === undefined) return () => true;
  const defined = (["any", "all", "exactly", "none"] as const).filter((k) => set[k].length > 0);
  if (defined.length !== 1) {
    throw new FilterError(
      field,
      defined.length === 0
        ? "capability filter must define exactly one match set"
        : `capability filter may only define one match set, got: ${defined.join(", ")}`,
    );
  }
  const kind = defined[0];
  const wanted = new Set(set[kind]);
  return (caps) => {
    const have = new Set(caps);
    switch (kind) {
      case "any":
        return [...wanted].some((c) => have.has(c));
      case "all":
        return [...wanted].every((c) => have.has(c));
      case "exactly":
        return have.size === wanted.size && [...wanted].every((c) => have.has(c));
      case "none":
        return ![...wanted].some((c) => have.has(c));
    }
  };
}
