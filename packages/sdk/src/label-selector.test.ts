import { describe, expect, it } from "vitest";
import { FilterError } from "./filter-error.js";
import { parseLabelSelector } from "./label-selector.js";

const labels = { app: "web", tier: "frontend", "app.kubernetes.io/name": "shop" };

describe("parseLabelSelector", () => {
  it.each([
    ["", true],
    ["app=web", true],
    ["app==web", true],
    ["app = web", true],
    ["app=db", false],
    ["app!=db", true],
    ["app!=web", false],
    ["missing!=x", true],
    ["app in (db, web)", true],
    ["app in (db)", false],
    ["app notin (db)", true],
    ["app notin (web,db)", false],
    ["missing notin (x)", true],
    ["missing in (x)", false],
    ["app", true],
    ["missing", false],
    ["!missing", true],
    ["!app", false],
    ["app.kubernetes.io/name=shop", true],
    ["app=web,tier=frontend", true],
    ["app=web,tier=backend", false],
    ["app in (web,db),!missing,tier", true],
  ])("%j → %s", (selector, expected) => {
    expect(parseLabelSelector(selector)(labels)).toBe(expected);
  });

  it.each(["app in ()", "app in (web", "a,,b", ",", "app=we b", "-bad=x", "app=web)"])(
    "rejects %j",
    (selector) => {
      expect(() => parseLabelSelector(selector)).toThrow(FilterError);
    },
  );
});
