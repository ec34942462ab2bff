import { EventType, FieldFilterAction, toJsonLine } from "@nsguard/sdk";
import { describe, expect, it } from "vitest";
// The SDK's shared tables (test-only, imported by path): the server's tests run them too.
import {
  type FieldFilterCase,
  type FilterCase,
  fieldFilterCases,
  filterCases,
  filterEvents,
} from "../../sdk/src/testing/filter-cases.js";
import { main } from "./main.js";
import { captureIo } from "./testing/capture-io.js";

/** getevents flags for the Filter fields tetra's CLI exposes (cmd/tetra/getevents). */
const FLAG_OF: Record<string, (values: unknown[]) => string[]> = {
  binaryRegex: (v) => v.flatMap((x) => ["--process", String(x)]),
  podRegex: (v) => v.flatMap((x) => ["--pod", String(x)]),
  namespace: (v) => v.flatMap((x) => (x === "" ? ["--host"] : ["--namespace", String(x)])),
  namespaceRegex: (v) => v.flatMap((x) => ["--namespace-regex", String(x)]),
  containerNameRegex: (v) => v.flatMap((x) => ["--containers", String(x)]),
  policyNames: (v) => v.flatMap((x) => ["--policy-names", String(x)]),
  celExpression: (v) => v.flatMap((x) => ["--cel-expression", String(x)]),
  eventSet: (v) => v.flatMap((x) => ["--event-types", EventType[x as EventType]]),
};

function flagsOf(c: FilterCase): string[] | undefined {
  const entries = Object.entries(c.filter).filter(([, v]) => Array.isArray(v) && v.length > 0);
  if (entries.length === 0 || entries.length !== Object.keys(c.filter).length) return undefined;
  const flags: string[] = [];
  for (const [field, values] of entries) {
    const toFlags = FLAG_OF[field];
    if (!toFlags) return undefined;
    flags.push(...toFlags(values as unknown[]));
  }
  return flags;
}

const expressible = filterCases.flatMap((c) => {
  const flags = flagsOf(c);
  return flags ? [[c.name, c, flags] as const] : [];
});

describe("nsguard getevents with piped events: the shared filter tables through the CLI's flags", () => {
  it("covers the cases of every Filter field the CLI has a flag for", () => {
    const fields = new Set(expressible.flatMap(([, c]) => Object.keys(c.filter)));
    expect([...fields].sort()).toEqual(Object.keys(FLAG_OF).sort());
  });

  it.each(expressible)("%s", async (_name, c, flags) => {
    const events = filterEvents();
    // pid_set-like state is per request: one CLI run sees the case's events in order.
    const stdin = `${c.expect.map(([name]) => toJsonLine(events[name])).join("\n")}\n`;
    const io = captureIo({ stdin });
    expect(await main(["node", "nsguard", "getevents", "-o", "json", ...flags], io)).toBe(0);
    const printed = io.out().split("\n").filter(Boolean);
    const expected = c.expect.filter(([, matches]) => matches).map(([name]) => toJsonLine(events[name]));
    expect(printed).toEqual(expected);
  });
});

/** -f (one INCLUDE) then -F (one EXCLUDE): the field filters tetra's flags can say. */
function fieldFlagsOf(c: FieldFilterCase): string[] | undefined {
  const [first, second, ...rest] = c.fieldFilters;
  if (!first || rest.length > 0) return undefined;
  const flag = (f: (typeof c.fieldFilters)[number]) =>
    [f.action === FieldFilterAction.INCLUDE ? "-f" : "-F", (f.fields?.paths ?? []).join(",")] as const;
  if (notAFlag(first) || (second && notAFlag(second))) return undefined;
  if (
    second &&
    !(first.action === FieldFilterAction.INCLUDE && second.action === FieldFilterAction.EXCLUDE)
  ) {
    return undefined;
  }
  return [...flag(first), ...(second ? flag(second) : [])];
}
/** Only plain INCLUDE/EXCLUDE of paths have flags (no invert_event_set, no event_set). */
function notAFlag(f: FieldFilterCase["fieldFilters"][number]): boolean {
  return (f.eventSet?.length ?? 0) > 0 || f.invertEventSet === true || (f.fields?.paths ?? []).length === 0;
}

const fieldExpressible = fieldFilterCases.flatMap((c) => {
  const flags = fieldFlagsOf(c);
  return flags ? [[c.name, c, flags] as const] : [];
});

describe("nsguard getevents -f/-F with piped events: the shared field-filter tables", () => {
  it("has cases to run", () => {
    expect(fieldExpressible.length).toBeGreaterThanOrEqual(4);
  });

  it.each(fieldExpressible)("%s", async (_name, c, flags) => {
    const io = captureIo({ stdin: `${toJsonLine(filterEvents()[c.event])}\n` });
    expect(await main(["node", "nsguard", "getevents", "-o", "json", ...flags], io)).toBe(0);
    expect(JSON.parse(io.out())).toEqual(c.json);
  });
});
