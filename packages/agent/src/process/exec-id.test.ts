import { describe, expect, it } from "vitest";
import { decodeExecId, execId, rootParentExecId } from "./exec-id.js";

describe("execId", () => {
  it("reproduces the worked example from Tetragon's namespace-access page", () => {
    expect(execId("tetragon-dev-control-plane", 116977905434201n, 63066)).toBe(
      "dGV0cmFnb24tZGV2LWNvbnRyb2wtcGxhbmU6MTE2OTc3OTA1NDM0MjAxOjYzMDY2",
    );
  });

  it("reproduces the seed's parent and grandparent ids", () => {
    expect(execId("tetragon-dev-control-plane", 116977729907351n, 63052)).toBe(
      "dGV0cmFnb24tZGV2LWNvbnRyb2wtcGxhbmU6MTE2OTc3NzI5OTA3MzUxOjYzMDUy",
    );
    expect(execId("tetragon-dev-control-plane", 88364674028n, 7211)).toBe(
      "dGV0cmFnb24tZGV2LWNvbnRyb2wtcGxhbmU6ODgzNjQ2NzQwMjg6NzIxMQ==",
    );
  });

  it("keeps full 64-bit ktimes exact (no float rounding)", () => {
    const big = 18446744073709551615n;
    expect(Buffer.from(execId("n", big, 1), "base64").toString()).toBe("n:18446744073709551615:1");
  });

  it("gives pid 0 the fixed parent id <node>:1:0", () => {
    expect(Buffer.from(rootParentExecId("node-a"), "base64").toString()).toBe("node-a:1:0");
  });

  it("an empty node name still yields an id, like Tetragon (issue #699)", () => {
    expect(Buffer.from(execId("", 5n, 9), "base64").toString()).toBe(":5:9");
  });
});

describe("decodeExecId", () => {
  it("round-trips, including node names with colons", () => {
    expect(decodeExecId(execId("a:b", 123n, 45))).toEqual({ node: "a:b", ktime: 123n, pid: 45 });
  });

  it("rejects strings that are not exec ids", () => {
    expect(decodeExecId(Buffer.from("hello").toString("base64"))).toBeUndefined();
    expect(decodeExecId(Buffer.from("n:x:1").toString("base64"))).toBeUndefined();
  });
});
