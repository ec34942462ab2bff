import type { MessageInitShape } from "@bufbuild/protobuf";
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { FilterError } from "./filter-error.js";
import { compileFilter, compileFilters } from "./filters.js";
import { EventType, FilterSchema } from "./gen/tetragon/events_pb.js";
import { filterCases, filterEvents, invalidFilterCases } from "./testing/filter-cases.js";

type FilterInit = MessageInitShape<typeof FilterSchema>;
const filter = (init: FilterInit) => create(FilterSchema, init);
const { seed, hostExec, probeExec, exitEvent, rateLimit } = filterEvents();

describe("compileFilter (shared table)", () => {
  it.each(filterCases.map((c) => [c.name, c] as const))("%s", (_name, c) => {
    const events = filterEvents();
    const p = compileFilter(filter(c.filter));
    const got = c.expect.map(([name]) => [name, p(events[name])]);
    expect(got).toEqual(c.expect);
  });
});

describe("compileFilters", () => {
  const all = [seed, hostExec, probeExec, exitEvent, rateLimit];
  const passing = (
    allow: MessageInitShape<typeof FilterSchema>[],
    deny: MessageInitShape<typeof FilterSchema>[],
  ) => {
    const p = compileFilters(allow.map(filter), deny.map(filter));
    return all.filter(p);
  };

  it("passes everything when both lists are empty", () => {
    expect(passing([], [])).toEqual(all);
  });
  it("allow list: any Filter may match", () => {
    expect(passing([{ namespace: ["default"] }, { eventSet: [EventType.RATE_LIMIT_INFO] }], [])).toEqual([
      seed,
      rateLimit,
    ]);
  });
  it("deny list removes matches; an empty allow list allows the rest", () => {
    expect(passing([], [{ healthCheck: true }, { namespace: [""] }])).toEqual([seed, rateLimit]);
  });
  it("allow minus deny", () => {
    expect(passing([{ binaryRegex: ["ls$", "nsenter"] }], [{ eventSet: [EventType.PROCESS_EXIT] }])).toEqual([
      seed,
      hostExec,
    ]);
  });
  it("an empty deny Filter denies everything", () => {
    expect(passing([], [{}])).toEqual([]);
  });
});

describe("filter errors (shared table)", () => {
  it.each(invalidFilterCases)("%s rejects %j", (field, init) => {
    const err = catchError(() => compileFilters([filter(init)], []));
    expect(err).toBeInstanceOf(FilterError);
    expect((err as FilterError).field).toBe(field);
  });
});

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error("expected an error");
}
