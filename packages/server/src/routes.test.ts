import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import {
  FineGuidanceSensors,
  HealthStatusResult,
  HealthStatusSchema,
  HealthStatusType,
  TracingPolicyMode,
} from "@nsguard/sdk";
import { afterEach, describe, expect, it } from "vitest";
import { PolicyNotFoundError } from "./errors.js";
import type { ServerDeps } from "./interfaces.js";
import { MemoryPolicyStore } from "./testing/memory-policy-store.js";
import { startTestServer, type TestServer, type TransportKind, transportFor } from "./testing/test-server.js";

async function rpcError(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (e) {
    return ConnectError.from(e);
  }
  throw new Error("the call succeeded");
}

describe("FineGuidanceSensors routes", () => {
  let t: TestServer | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });
  async function clientFor(kind: TransportKind, deps: Partial<ServerDeps> = {}) {
    t = await startTestServer({ deps });
    // The unix socket: the policy RPCs are refused over plain TCP (access.test.ts).
    return createClient(FineGuidanceSensors, transportFor(kind, "http://localhost", t.socketPath));
  }

  for (const kind of ["grpc", "connect-json", "grpc-web"] as const) {
    it(`answers GetHealth, GetVersion and GetInfo (${kind})`, async () => {
      const client = await clientFor(kind, {
        info: { build: { commit: "abc123", goVersion: "" }, probes: [{ Name: "setns", Enabled: true }] },
      });
      const health = await client.getHealth({});
      expect(health.healthStatus).toEqual([
        create(HealthStatusSchema, {
          event: HealthStatusType.STATUS,
          status: HealthStatusResult.HEALTH_STATUS_RUNNING,
          details: "running",
        }),
      ]);
      expect((await client.getVersion({})).version).toBe("v0.0.0-test");
      const info = await client.getInfo({});
      expect(info.name).toBe("nsguard");
      expect(info.version).toBe("v0.0.0-test");
      expect(info.build?.commit).toBe("abc123");
      expect(info.probes[0]?.Enabled).toBe(true);
    });
  }

  it("reports GetHealth from the health source when there is one", async () => {
    const stopped = create(HealthStatusSchema, {
      event: HealthStatusType.STATUS,
      status: HealthStatusResult.HEALTH_STATUS_ERROR,
      details: "sensor not loaded",
    });
    const client = await clientFor("grpc", { health: { health: () => [stopped] } });
    expect((await client.getHealth({})).healthStatus).toEqual([stopped]);
  });

  it("adds the pipeline's loss counters to GetHealth, beside Tetragon's running status", async () => {
    const client = await clientFor("grpc", {
      health: {
        pipeline: () => ({
          kernelSubmitted: 10n,
          floodSuppressed: 5n,
          listeners: [{ label: "grpc GetEvents", dropped: 2n }],
        }),
      },
    });
    const health = await client.getHealth({});
    expect(health.healthStatus.map((s) => s.details)).toEqual(["running"]);
    expect(health.pipeline).toMatchObject({
      kernelSubmitted: 10n,
      floodSuppressed: 5n,
      ringbufLost: 0n,
      listeners: [{ label: "grpc GetEvents", dropped: 2n }],
    });
  });

  it("answers Unimplemented, naming the RPC, for what nsguard does not serve", async () => {
    const client = await clientFor("grpc");
    const cases: [Promise<unknown>, RegExp][] = [
      [client.listSensors({}), /^ListSensors is deprecated$/],
      [client.enableSensor({ name: "x" }), /^EnableSensor is deprecated/],
      [client.disableSensor({ name: "x" }), /^DisableSensor is deprecated/],
      [client.removeSensor({ name: "x" }), /^RemoveSensor is deprecated/],
      [client.runtimeHook({}), /^RuntimeHook is not implemented/],
      [client.getDebug({}), /^GetDebug is not implemented/],
      [client.setDebug({}), /^SetDebug is not implemented/],
      // No policy store: the policy RPCs are not available either.
      [client.addTracingPolicy({ yaml: "" }), /^AddTracingPolicy is not available/],
      [client.deleteTracingPolicy({ name: "x" }), /^DeleteTracingPolicy is not available/],
      [client.listTracingPolicies({}), /^ListTracingPolicies is not available/],
      [client.configureTracingPolicy({ name: "x" }), /^ConfigureTracingPolicy is not available/],
      [client.listDomains({}), /^ListDomains is not available/],
    ];
    for (const [call, message] of cases) {
      const err = await rpcError(call);
      expect(err.code).toBe(Code.Unimplemented);
      expect(err.rawMessage).toMatch(message);
    }
  });

  it("refuses the deprecated Enable/DisableTracingPolicy unless enabled", async () => {
    const store = new MemoryPolicyStore();
    const client = await clientFor("grpc", { policies: store });
    for (const call of [
      client.enableTracingPolicy({ name: "p" }),
      client.disableTracingPolicy({ name: "p" }),
    ]) {
      const err = await rpcError(call);
      expect(err.code).toBe(Code.FailedPrecondition);
      expect(err.rawMessage).toMatch(/^(En|Dis)ableTracingPolicy is deprecated/);
    }
    expect(store.calls).toEqual([]);
  });

  it("serves the deprecated Enable/DisableTracingPolicy through configure when enabled", async () => {
    const store = new MemoryPolicyStore();
    const client = await clientFor("grpc", { policies: store, enableDeprecatedTracingPolicyGrpc: true });
    await client.enableTracingPolicy({ name: "p", namespace: "ns" });
    await client.disableTracingPolicy({ name: "p", domain: "static" });
    expect(store.calls).toEqual([
      ["configure", { name: "p", namespace: "ns", domain: "grpc", enable: true }],
      ["configure", { name: "p", namespace: "", domain: "static", enable: false }],
    ]);
  });

  it("delegates the policy RPCs to the store, applying Tetragon's domain defaults", async () => {
    const store = new MemoryPolicyStore();
    const client = await clientFor("connect-json", { policies: store });
    await client.addTracingPolicy({ yaml: "metadata:\n  name: ns-access\n" });
    await client.addTracingPolicy({ yaml: "metadata:\n  name: other\n", domain: "static" });
    const all = await client.listTracingPolicies({});
    expect(all.policies.map((p) => [p.name, p.domain])).toEqual([
      ["ns-access", "grpc"],
      ["other", "static"],
    ]);
    expect((await client.listTracingPolicies({ domain: "static" })).policies.map((p) => p.name)).toEqual([
      "other",
    ]);
    expect((await client.listDomains({})).domains).toEqual(["grpc", "static"]);
    await client.configureTracingPolicy({
      name: "ns-access",
      enable: false,
      mode: TracingPolicyMode.TP_MODE_MONITOR,
    });
    await client.deleteTracingPolicy({ name: "ns-access" });
    expect(store.calls).toEqual([
      ["add", "metadata:\n  name: ns-access\n", "grpc"],
      ["add", "metadata:\n  name: other\n", "static"],
      ["list", undefined],
      ["list", "static"],
      ["list", undefined],
      [
        "configure",
        {
          name: "ns-access",
          namespace: "",
          domain: "grpc",
          enable: false,
          mode: TracingPolicyMode.TP_MODE_MONITOR,
        },
      ],
      ["delete", "ns-access", "", "grpc"],
    ]);
  });

  it("uses the store's own domain list when it has one", async () => {
    const store = Object.assign(new MemoryPolicyStore(), { domains: () => ["grpc", "k8s", "static"] });
    const client = await clientFor("grpc", { policies: store });
    expect((await client.listDomains({})).domains).toEqual(["grpc", "k8s", "static"]);
  });

  it("maps store errors to Connect codes, keeping the message", async () => {
    const store = new MemoryPolicyStore();
    const client = await clientFor("grpc", { policies: store });
    const policyError = Object.assign(new Error("spec.kprobes[0].call: required"), { name: "PolicyError" });
    const eperm = Object.assign(new Error("bpf_prog_load: Operation not permitted"), {
      name: "BpfError",
      code: "EPERM",
      errno: -1,
    });
    const bpf = Object.assign(new Error("attach failed: no such tracepoint"), {
      name: "BpfError",
      code: "EINVAL",
    });
    const cases: [unknown, Code][] = [
      [policyError, Code.InvalidArgument],
      [eperm, Code.PermissionDenied],
      [new PolicyNotFoundError("tracing policy x not found"), Code.NotFound],
      [bpf, Code.Unavailable],
      [new Error("disk on fire"), Code.Unknown],
    ];
    for (const [error, code] of cases) {
      store.failNext(error);
      const err = await rpcError(client.addTracingPolicy({ yaml: "metadata:\n  name: x\n" }));
      expect(err.code).toBe(code);
      expect(err.rawMessage).toBe((error as Error).message);
    }
    // A real "not found" from the store's own logic.
    const err = await rpcError(client.deleteTracingPolicy({ name: "missing" }));
    expect(err.code).toBe(Code.NotFound);
  });
});
