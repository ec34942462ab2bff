import { describe, expect, it } from "vitest";
import { parseTcpAddress, parseUnixSocketPath } from "./listen-address.js";

describe("parseTcpAddress", () => {
  it.each([
    ["localhost:54321", { host: "localhost", port: 54321 }],
    ["127.0.0.1:0", { host: "127.0.0.1", port: 0 }],
    ["[::1]:54321", { host: "::1", port: 54321 }],
    [":54321", { host: undefined, port: 54321 }],
    [" 127.0.0.1:80 ", { host: "127.0.0.1", port: 80 }],
  ])("%s", (address, expected) => {
    expect(parseTcpAddress(address)).toEqual(expected);
  });

  it("treats empty as no listener", () => {
    expect(parseTcpAddress("")).toBeUndefined();
    expect(parseTcpAddress(undefined)).toBeUndefined();
  });

  it.each(["localhost", "localhost:", "localhost:http", "::1:80", "host:70000", "host:-1"])(
    "rejects %s",
    (a) => {
      expect(() => parseTcpAddress(a)).toThrow(/invalid TCP address/);
    },
  );
});

describe("parseUnixSocketPath", () => {
  it("accepts plain paths and unix:// URLs", () => {
    expect(parseUnixSocketPath("/var/run/nsguard/nsguard.sock")).toBe("/var/run/nsguard/nsguard.sock");
    expect(parseUnixSocketPath("unix:///var/run/tetragon/tetragon.sock")).toBe(
      "/var/run/tetragon/tetragon.sock",
    );
    expect(parseUnixSocketPath("")).toBeUndefined();
  });
});
