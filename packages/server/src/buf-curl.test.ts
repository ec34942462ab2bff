import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { equals, fromJson, type JsonValue } from "@bufbuild/protobuf";
import { FineGuidanceSensors, type GetEventsResponse, GetEventsResponseSchema } from "@nsguard/sdk";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { sampleExecEvent, sampleKprobeEvent } from "./testing/events.js";
import { startTestServer, type TestServer } from "./testing/test-server.js";
import { waitFor } from "./testing/wait-for.js";

// `buf curl` is the documented way to poke the API by hand (examples/, README); it is a
// third, non-JavaScript client (Go, grpc-go style h2c), driven exactly as a user would.
const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const buf = `${repoRoot}node_modules/.bin/buf`;
const schema = `${repoRoot}proto`;

interface Curl {
  child: ChildProcess;
  /** Ends buf curl: its whole process group, since the npm `buf` is a node shim around the Go binary. */
  stop(): void;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** `reflect`: no --schema, buf curl asks the server's reflection service with this protocol. */
function bufCurl(args: string[], reflect?: "grpc-v1" | "grpc-v1alpha"): Curl {
  const schemaArgs = reflect === undefined ? ["--schema", schema] : ["--reflect-protocol", reflect];
  const child = spawn(buf, ["curl", ...schemaArgs, ...args], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true, // its own process group, so stop() reaches the Go process too
  });
  let out = "";
  let err = "";
  child.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const stop = () => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        // already gone
      }
    }
  };
  return { child, stop, stdout: () => out, stderr: () => err, exited };
}

/** buf curl prints each stream message as a pretty JSON object; split them. */
function jsonObjects(text: string): JsonValue[] {
  return text
    .split(/(?<=^\})\n(?=\{)/m)
    .filter((s) => s.trim() !== "")
    .map((s) => JSON.parse(s) as JsonValue);
}

function completeObjects(text: string): number {
  return (text.match(/^\}$/gm) ?? []).length;
}

describe.skipIf(!existsSync(buf))("buf curl against a running server", () => {
  let t: TestServer;
  const curls: Curl[] = [];
  beforeEach(async () => {
    t = await startTestServer();
  });
  afterEach(async () => {
    for (const c of curls.splice(0)) c.stop();
    await t.close();
  });

  for (const via of ["tcp", "unix"] as const) {
    it(`streams GetEvents with --protocol grpc --http2-prior-knowledge over ${via}`, async () => {
      const target =
        via === "tcp"
          ? [`${t.url}/tetragon.FineGuidanceSensors/GetEvents`]
          : ["--unix-socket", t.socketPath, "http://localhost/tetragon.FineGuidanceSensors/GetEvents"];
      const curl = bufCurl([
        "--protocol",
        "grpc",
        "--http2-prior-knowledge",
        "-d",
        JSON.stringify({ allow_list: [{ namespace: ["prod"] }] }),
        ...target,
      ]);
      curls.push(curl);
      await waitFor(
        () => t.hub.subscriberCount === 1 || curl.child.exitCode !== null,
        "buf curl to subscribe",
      );
      expect(curl.stderr()).toBe("");

      const wanted: GetEventsResponse[] = [];
      for (let i = 0; i < 6; i++) {
        if (i % 2 === 0) {
          const e = sampleKprobeEvent(i, { namespace: "prod" });
          wanted.push(e);
          t.hub.publish(e);
        } else {
          t.hub.publish(i % 3 === 0 ? sampleExecEvent(i) : sampleKprobeEvent(i));
        }
      }
      await waitFor(() => completeObjects(curl.stdout()) >= wanted.length, "buf curl to print the events");
      curl.stop();
      await curl.exited;

      const printed = jsonObjects(curl.stdout());
      expect(printed).toHaveLength(wanted.length);
      printed.forEach((json, i) => {
        expect(
          equals(
            GetEventsResponseSchema,
            fromJson(GetEventsResponseSchema, json),
            wanted[i] as GetEventsResponse,
          ),
        ).toBe(true);
      });
      await waitFor(() => t.hub.subscriberCount === 0, "the killed client's subscription to end");
    });
  }

  it("gets invalid_argument for a bad filter", async () => {
    const curl = bufCurl([
      "--protocol",
      "grpc",
      "--http2-prior-knowledge",
      "-d",
      JSON.stringify({ allow_list: [{ binary_regex: ["("] }] }),
      `${t.url}/tetragon.FineGuidanceSensors/GetEvents`,
    ]);
    curls.push(curl);
    expect(await curl.exited).not.toBe(0);
    expect(JSON.parse(curl.stderr())).toMatchObject({ code: "invalid_argument" });
  });

  it("speaks Connect (JSON, HTTP/1.1) and gRPC-Web too", async () => {
    for (const protocol of ["connect", "grpcweb"]) {
      const curl = bufCurl([
        "--protocol",
        protocol,
        "-d",
        "{}",
        `${t.url}/tetragon.FineGuidanceSensors/GetVersion`,
      ]);
      curls.push(curl);
      expect(await curl.exited).toBe(0);
      expect(JSON.parse(curl.stdout())).toEqual({ version: "v0.0.0-test" });
    }
  });
});

describe.skipIf(!existsSync(buf))("buf curl with server reflection (no --schema)", () => {
  let t: TestServer;
  const curls: Curl[] = [];
  beforeEach(async () => {
    t = await startTestServer();
  });
  afterEach(async () => {
    for (const c of curls.splice(0)) c.stop();
    await t.close();
  });
  const h2c = ["--protocol", "grpc", "--http2-prior-knowledge"];

  for (const reflect of ["grpc-v1", "grpc-v1alpha"] as const) {
    it(`lists services and methods over ${reflect}`, async () => {
      const services = bufCurl([...h2c, "--list-services", t.url], reflect);
      curls.push(services);
      expect(await services.exited).toBe(0);
      expect(services.stdout().trim().split("\n")).toEqual([
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
        "tetragon.FineGuidanceSensors",
      ]);
      const methods = bufCurl([...h2c, "--list-methods", t.url], reflect);
      curls.push(methods);
      expect(await methods.exited).toBe(0);
      expect(methods.stdout().trim().split("\n").sort()).toEqual(
        [
          "grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
          "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
          ...FineGuidanceSensors.methods.map((m) => `tetragon.FineGuidanceSensors/${m.name}`),
        ].sort(),
      );
    });

    it(`calls GetVersion and streams GetEvents over ${reflect}, over TCP and the unix socket`, async () => {
      const version = bufCurl(
        [...h2c, "-d", "{}", `${t.url}/tetragon.FineGuidanceSensors/GetVersion`],
        reflect,
      );
      curls.push(version);
      expect(await version.exited).toBe(0);
      expect(JSON.parse(version.stdout())).toEqual({ version: "v0.0.0-test" });

      const stream = bufCurl(
        [
          ...h2c,
          "--unix-socket",
          t.socketPath,
          "-d",
          JSON.stringify({ allow_list: [{ namespace: ["prod"] }] }),
          "http://localhost/tetragon.FineGuidanceSensors/GetEvents",
        ],
        reflect,
      );
      curls.push(stream);
      await waitFor(
        () => t.hub.subscriberCount === 1 || stream.child.exitCode !== null,
        "buf curl to subscribe",
      );
      expect(stream.stderr()).toBe("");
      const wanted = [
        sampleKprobeEvent(1, { namespace: "prod" }),
        sampleKprobeEvent(2, { namespace: "prod" }),
      ];
      t.hub.publish(sampleExecEvent(3));
      for (const e of wanted) t.hub.publish(e);
      await waitFor(() => completeObjects(stream.stdout()) >= wanted.length, "buf curl to print the events");
      stream.stop();
      await stream.exited;
      const printed = jsonObjects(stream.stdout()).map((j) => fromJson(GetEventsResponseSchema, j));
      expect(printed).toHaveLength(2);
      printed.forEach((p, i) => {
        expect(equals(GetEventsResponseSchema, p, wanted[i] as GetEventsResponse)).toBe(true);
      });
    });
  }

  it("fails once reflection is off: buf curl needs a schema again", async () => {
    await t.close();
    t = await startTestServer({ reflection: false });
    const curl = bufCurl([...h2c, "-d", "{}", `${t.url}/tetragon.FineGuidanceSensors/GetVersion`], "grpc-v1");
    curls.push(curl);
    expect(await curl.exited).not.toBe(0);
    expect(curl.stderr()).toMatch(/failed to find service named "tetragon.FineGuidanceSensors"/);
  });
});
