import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { FILTER_TIME_BUDGET_MS } from "./filter-budget.js";
import { FilterCostError } from "./filter-error.js";
import { compileFilters } from "./filters.js";
import { FilterSchema } from "./gen/tetragon/events_pb.js";
import { filterEvents } from "./testing/filter-cases.js";

const d10 = "[0,1,2,3,4,5,6,7,8,9]";
// Each evaluation runs into CEL's iteration budget: the most a single evaluation can cost.
const worstCel = `${d10}.all(a, ${d10}.all(b, ${d10}.all(c, true))) && process_exec.process.pid > 0u`;

describe("filter time budget", () => {
  it("stops evaluating a costly filter once it has used its share, with FilterCostError", () => {
    const p = compileFilters([create(FilterSchema, { celExpression: [worstCel] })], []);
    const { hostExec } = filterEvents();
    let evaluated = 0;
    let error: unknown;
    // Enough evaluations to take far longer than the budget if none were refused.
    for (let i = 0; i < 5000 && error === undefined; i++) {
      try {
        p(hostExec);
        evaluated++;
      } catch (e) {
        error = e;
      }
    }
    expect(error).toBeInstanceOf(FilterCostError);
    expect(evaluated).toBeGreaterThan(0);
    expect(evaluated).toBeLessThan(5000);
    expect((error as Error).message).toContain(`${FILTER_TIME_BUDGET_MS} ms`);
  });

  it("does not meter cheap filters", () => {
    const p = compileFilters([create(FilterSchema, { binaryRegex: ["ls$"], namespace: [""] })], []);
    const { hostExec } = filterEvents();
    // Far more evaluations than fit in one budget if each were metered: none is refused.
    let matched = 0;
    for (let i = 0; i < 2_000_000; i++) if (p(hostExec)) matched++;
    expect(matched).toBe(2_000_000);
  });
});
