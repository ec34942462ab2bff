import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";
import * as client from "./client.js";
import * as compact from "./compact.js";
import * as fastBinary from "./fast-binary.js";
import * as node from "./index.js";
import * as web from "./web.js";
import * as webClient from "./web-client.js";

describe("the browser entry (web.ts)", () => {
  it("bundles for browsers without node:* modules or Node globals", async () => {
    // platform "browser" makes esbuild fail on any node:* (or bare builtin) import.
    const result = await build({
      entryPoints: [fileURLToPath(new URL("./web.ts", import.meta.url))],
      bundle: true,
      platform: "browser",
      format: "esm",
      write: false,
      metafile: true,
      logLevel: "silent",
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.some((p) => p.includes("connect-web"))).toBe(true);
    expect(inputs.filter((p) => /connect-node|\/client\.ts$|compact\.ts$|wire-writer\.ts$/.test(p))).toEqual(
      [],
    );
    const code = result.outputFiles[0]?.text ?? "";
    expect(code).not.toMatch(/\bBuffer\.|\brequire\(/);
  });

  it("exports everything index.ts does except the Node-only modules, plus the web client", () => {
    const nodeOnly = new Set([...Object.keys(client), ...Object.keys(compact), ...Object.keys(fastBinary)]);
    const expected = Object.keys(node)
      .filter((k) => !nodeOnly.has(k))
      .concat(Object.keys(webClient))
      .sort();
    expect(Object.keys(web).sort()).toEqual(expected);
  });
});
