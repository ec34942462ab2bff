import { describe, expect, it } from "vitest";
import { humanBytes } from "./policy-table.js";

describe("humanBytes", () => {
  it.each([
    [0n, "0 B"],
    [999n, "999 B"],
    [1000n, "1.00 kB"],
    [2_400_000n, "2.40 MB"],
    [1_234_567_890n, "1.23 GB"],
  ])("%s → %s", (n, text) => {
    expect(humanBytes(n)).toBe(text);
  });
});
