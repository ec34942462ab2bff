// SPDX-License-Identifier: Apache-2.0

import { describe, expect, it } from "vitest";
import { closestMatch } from "./closest-match.js";

describe("closestMatch", () => {
  const fields = ["operator", "values", "isNamespacePID", "followForks"];

  it.each([
    ["followforks", fields, "followForks"],
    ["value", fields, "values"],
    ["opertor", fields, "operator"],
    ["nmae", ["name", "namespace"], "name"],
    ["inty", ["int", "uint32", "string"], "int"],
    ["notin", ["In", "NotIn"], "NotIn"],
  ])("%s → %s", (word, candidates, match) => {
    expect(closestMatch(word, candidates)).toBe(match);
  });

  it.each([
    ["banana", fields],
    ["x", ["int", "fd"]],
    ["Kill", ["Post", "Sigkill", "NoPost"]],
  ])("suggests nothing for %s", (word, candidates) => {
    expect(closestMatch(word, candidates)).toBeUndefined();
  });
});
