import { CelScalar, celEnv, celFunc, isCelError, objectType, parse, plan } from "@bufbuild/cel";
import type { Expr } from "@bufbuild/cel-spec/cel/expr/syntax_pb.js";
import { ExprSchema } from "@bufbuild/cel-spec/cel/expr/syntax_pb.js";
import type { DescMessage, Message } from "@bufbuild/protobuf";
import { create, createRegistry } from "@bufbuild/protobuf";
import { FilterError } from "./filter-error.js";
import { file_tetragon_bpf } from "./gen/tetragon/bpf_pb.js";
import { file_tetragon_capabilities } from "./gen/tetragon/capabilities_pb.js";
import type { GetEventsResponse } from "./gen/tetragon/events_pb.js";
import { file_tetragon_events, GetEventsResponseSchema } from "./gen/tetragon/events_pb.js";
import { file_tetragon_tetragon } from "./gen/tetragon/tetragon_pb.js";
import { compileRegex, type Re2Matcher } from "./regex.js";

/**
 * Comprehension iterations (all/exists/exists_one/map/filter steps, nested ones included) one
 * evaluation may take. Filters run on the hub's publish path, once per event per listener, so
 * an expression such as `l.map(a, l.map(b, l.map(c, …)))` must not be able to hold the event
 * loop: past this budget the evaluation stops and the event does not match. A step is about a
 * microsecond, so the bound is about a millisecond per event; real filters take a few steps.
 */
export const CEL_MAX_ITERATIONS = 1000;
/**
 * Longest accepted expression. Without comprehensions the cost of one evaluation is linear in
 * the expression's size, so this bounds that cost too; Tetragon's own expressions are one-liners.
 */
export const CEL_MAX_EXPRESSION_LENGTH = 4096;

const eventOneof = GetEventsResponseSchema.oneofs.find((o) => o.name === "event");
if (eventOneof === undefined) throw new Error("GetEventsResponse has no `event` oneof");

// Tetragon (pkg/filters/cel_expression.go) declares one variable per GetEventsResponse event,
// named like the oneof field (`process_exec`, `process_kprobe`, …), in container `tetragon`.
const eventVariables = new Map<string, { desc: DescMessage; localName: string }>(
  eventOneof.fields.flatMap((f) =>
    f.message === undefined ? [] : [[f.name, { desc: f.message, localName: f.localName }] as const],
  ),
);
const registry = createRegistry(
  file_tetragon_events,
  file_tetragon_tetragon,
  file_tetragon_capabilities,
  file_tetragon_bpf,
);

// The budget counter of the evaluation in progress. Evaluation is synchronous, so one
// counter serves every program: each evaluation resets it before it starts.
let remaining = 0;
const TICK = "nsguard_cel_step";
const TICK_IDS = 1n << 40n;
const tick = celFunc(TICK, [CelScalar.BOOL], CelScalar.BOOL, (condition) => {
  remaining--;
  if (remaining < 0) throw new Error(`CEL evaluation exceeded ${CEL_MAX_ITERATIONS} iterations`);
  return condition;
});

// matches() compiles its pattern on every call in @bufbuild/cel (0.2-1 ms, more than the
// rest of a typical evaluation), so compiled patterns are kept. Patterns come from the
// expressions or from event data; the cache is emptied when full rather than grown.
const MAX_CACHED_PATTERNS = 256;
const patterns = new Map<string, Re2Matcher>();
const re2 = {
  compile(pattern: string): Re2Matcher {
    let m = patterns.get(pattern);
    if (m === undefined) {
      // The same engine as the regex filter fields; an invalid pattern is an evaluation error.
      m = compileRegex(pattern, "cel_expression");
      if (patterns.size >= MAX_CACHED_PATTERNS) patterns.clear();
      patterns.set(pattern, m);
    }
    return m;
  },
};

const env = celEnv({
  re2,
  namespace: "tetragon",
  registry,
  variables: Object.fromEntries([...eventVariables].map(([name, v]) => [name, objectType(v.desc)])),
  funcs: [tick],
});

// A binding for every event variable. Variables of other event kinds are empty messages, as
// Tetragon binds them to typed nil pointers, which read as default values.
const emptyBindings = (): Record<string, Message> =>
  Object.fromEntries([...eventVariables].map(([name, v]) => [name, create(v.desc)]));

interface Program {
  run(bindings: Record<string, Message>): unknown;
  /** The event variables the expression names; it only runs on those events. */
  events: ReadonlySet<string>;
}

/**
 * Compiles Filter.cel_expression: the event matches when any expression that names its event
 * variable evaluates to true. As in Tetragon, an expression runs only on the event kinds it
 * names (so `true` alone matches nothing), and an evaluation error means no match. Errors that
 * do not depend on the event (syntax, unknown fields, variables or functions, a non-boolean
 * result) are FilterErrors naming `cel_expression`.
 */
export function compileCelExpressions(expressions: readonly string[]): (event: GetEventsResponse) => boolean {
  const programs = expressions.map(compileOne);
  const bindings = emptyBindings();
  const byCase = new Map([...eventVariables].map(([name, v]) => [v.localName, name]));
  return (event) => {
    const name = event.event.case === undefined ? undefined : byCase.get(event.event.case);
    if (name === undefined) return false;
    const previous = bindings[name];
    bindings[name] = event.event.value as Message;
    try {
      return programs.some((p) => p.events.has(name) && p.run(bindings) === true);
    } finally {
      bindings[name] = previous;
    }
  };
}

function compileOne(source: string): Program {
  const fail = (why: string): never => {
    throw new FilterError("cel_expression", `invalid CEL expression ${JSON.stringify(source)}: ${why}`);
  };
  if (source.length > CEL_MAX_EXPRESSION_LENGTH) fail(`longer than ${CEL_MAX_EXPRESSION_LENGTH} characters`);
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(source);
  } catch (err) {
    return fail((err as Error).message);
  }
  const events = new Set<string>();
  validate(parsed.expr, new Set(), events, fail);
  meterComprehensions(parsed.expr);
  const evaluate = plan(env, parsed);
  const run = (bindings: Record<string, Message>): unknown => {
    remaining = CEL_MAX_ITERATIONS;
    return evaluate(bindings);
  };
  // The type checker of @bufbuild/cel is not public yet, so the result type is checked by
  // running once on empty events: a value that is not a boolean there is not one anywhere
  // (errors may depend on the event, e.g. a missing map key, and are allowed).
  const dry = run(emptyBindings());
  if (!isCelError(dry) && typeof dry !== "boolean") fail(`the result must be a bool, got ${typeName(dry)}`);
  return { run, events };
}

function typeName(v: unknown): string {
  if (typeof v === "bigint") return "int";
  if (typeof v === "number") return "double";
  if (v === null) return "null";
  return typeof v;
}

// CEL's built-in type names and the identifiers the parser itself introduces.
const builtinIdents = new Set([
  "bool",
  "bytes",
  "double",
  "int",
  "uint",
  "string",
  "list",
  "map",
  "null_type",
  "type",
  "dyn",
  "google",
]);

/**
 * Rejects what Go's type checker would, as far as the event schema tells: identifiers that
 * are neither event variables, comprehension variables nor enum/type names, unknown functions,
 * and unknown fields on an event variable's messages. Collects the event variables named.
 */
function validate(
  expr: Expr | undefined,
  scope: ReadonlySet<string>,
  events: Set<string>,
  fail: (why: string) => never,
): void {
  if (expr === undefined) return;
  const k = expr.exprKind;
  switch (k.case) {
    case "identExpr": {
      const name = k.value.name;
      if (scope.has(name)) return;
      if (eventVariables.has(name)) events.add(name);
      else if (!builtinIdents.has(name) && !isQualifiedName(name)) fail(`undeclared reference to '${name}'`);
      return;
    }
    case "selectExpr": {
      const path = selectPath(expr);
      if (path !== undefined && !scope.has(path[0])) {
        const root = eventVariables.get(path[0]);
        if (root !== undefined) {
          events.add(path[0]);
          checkFields(root.desc, path.slice(1), fail);
          return;
        }
        if (builtinIdents.has(path[0]) || isQualifiedName(path.join("."))) return;
        fail(`undeclared reference to '${path.join(".")}'`);
      }
      validate(k.value.operand, scope, events, fail);
      return;
    }
    case "callExpr": {
      const fn = k.value.function;
      if (/^[A-Za-z]/.test(fn) && env.funcs.find(fn) === undefined) fail(`undeclared function '${fn}'`);
      validate(k.value.target, scope, events, fail);
      for (const a of k.value.args) validate(a, scope, events, fail);
      return;
    }
    case "listExpr":
      for (const e of k.value.elements) validate(e, scope, events, fail);
      return;
    case "structExpr":
      for (const e of k.value.entries) {
        if (e.keyKind.case === "mapKey") validate(e.keyKind.value, scope, events, fail);
        validate(e.value, scope, events, fail);
      }
      return;
    case "comprehensionExpr": {
      const c = k.value;
      validate(c.iterRange, scope, events, fail);
      validate(c.accuInit, scope, events, fail);
      const inner = new Set([...scope, c.iterVar, c.accuVar]);
      validate(c.loopCondition, inner, events, fail);
      validate(c.loopStep, inner, events, fail);
      validate(c.result, new Set([...scope, c.accuVar]), events, fail);
      return;
    }
    default:
      return;
  }
}

/** `a.b.c` as ["a", "b", "c"] when the chain starts at an identifier. */
function selectPath(expr: Expr): string[] | undefined {
  const names: string[] = [];
  let e: Expr | undefined = expr;
  while (e?.exprKind.case === "selectExpr") {
    if (e.exprKind.value.testOnly) return undefined;
    names.unshift(e.exprKind.value.field);
    e = e.exprKind.value.operand;
  }
  if (e?.exprKind.case !== "identExpr") return undefined;
  names.unshift(e.exprKind.value.name);
  return names;
}

// Names an expression may use for types and enum constants, as @bufbuild/cel resolves them:
// `tetragon.KprobeAction.KPROBE_ACTION_POST`, or relative to the container, `KprobeAction.…`.
const qualifiedNames = new Set<string>();
for (const t of registry) {
  qualifiedNames.add(t.typeName);
  if (t.kind === "enum") for (const v of t.values) qualifiedNames.add(`${t.typeName}.${v.name}`);
}

function isQualifiedName(name: string): boolean {
  return qualifiedNames.has(name) || qualifiedNames.has(`tetragon.${name}`);
}

// Field paths below an event variable; the walk stops at lists, maps and scalars, whose
// further selections (an index, a map key via `.`) depend on the data.
function checkFields(desc: DescMessage, path: readonly string[], fail: (why: string) => never): void {
  let d: DescMessage = desc;
  for (const name of path) {
    const f = d.fields.find((x) => x.name === name);
    if (f === undefined) fail(`no field '${name}' in ${d.typeName}`);
    if (f?.fieldKind !== "message") return;
    // Well-known wrappers (UInt32Value, …) read as their value and have no fields to select.
    if (f.message.file.name.startsWith("google/protobuf/")) return;
    d = f.message;
  }
}

// Wraps every comprehension's loop condition in the budget function, which Go's cel-go
// does with its cost tracker: the condition runs once per iteration, before the step.
function meterComprehensions(expr: Expr | undefined): void {
  if (expr === undefined) return;
  const k = expr.exprKind;
  switch (k.case) {
    case "selectExpr":
      meterComprehensions(k.value.operand);
      return;
    case "callExpr":
      meterComprehensions(k.value.target);
      for (const a of k.value.args) meterComprehensions(a);
      return;
    case "listExpr":
      for (const e of k.value.elements) meterComprehensions(e);
      return;
    case "structExpr":
      for (const e of k.value.entries) {
        if (e.keyKind.case === "mapKey") meterComprehensions(e.keyKind.value);
        meterComprehensions(e.value);
      }
      return;
    case "comprehensionExpr": {
      const c = k.value;
      for (const e of [c.iterRange, c.accuInit, c.loopCondition, c.loopStep, c.result])
        meterComprehensions(e);
      c.loopCondition = create(ExprSchema, {
        // Above the parser's ids, which count up from 1, so every id stays unique.
        id: TICK_IDS + (c.loopCondition?.id ?? 0n),
        exprKind: {
          case: "callExpr",
          value: { function: TICK, args: c.loopCondition ? [c.loopCondition] : [] },
        },
      });
      return;
    }
    default:
      return;
  }
}
