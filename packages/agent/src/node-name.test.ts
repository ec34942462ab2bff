import { hostname } from "node:os";
import { describe, expect, it } from "vitest";
import { resolveNodeName } from "./node-name.js";

describe("resolveNodeName", () => {
  const host = () => "host-a";

  it("prefers an explicit option over the environment", () => {
    expect(
      resolveNodeName({ explicit: "x", env: { HUBBLE_NODE_NAME: "h", NODE_NAME: "n" }, hostname: host }),
    ).toBe("x");
  });

  it("uses HUBBLE_NODE_NAME before NODE_NAME", () => {
    expect(resolveNodeName({ env: { HUBBLE_NODE_NAME: "h", NODE_NAME: "n" }, hostname: host })).toBe("h");
    expect(resolveNodeName({ env: { NODE_NAME: "n" }, hostname: host })).toBe("n");
  });

  it("treats empty values as unset and falls back to the host name", () => {
    expect(
      resolveNodeName({ explicit: "", env: { HUBBLE_NODE_NAME: "", NODE_NAME: "" }, hostname: host }),
    ).toBe("host-a");
  });

  it("defaults to the real environment and os.hostname()", () => {
    const expected = process.env.HUBBLE_NODE_NAME || process.env.NODE_NAME || hostname();
    expect(resolveNodeName()).toBe(expected);
  });
});
