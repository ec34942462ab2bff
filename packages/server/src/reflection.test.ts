import { create, createFileRegistry, type DescMessage, fromBinary } from "@bufbuild/protobuf";
import {
  type FileDescriptorProto,
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
} from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { FineGuidanceSensors, GetEventsRequestSchema, GetEventsResponseSchema } from "@nsguard/sdk";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import * as v1 from "./gen/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "./gen/grpc/reflection/v1alpha/reflection_pb.js";
import { startTestServer, type TestServer } from "./testing/test-server.js";

type Question = v1.ServerReflectionRequest["messageRequest"];

// Real connect-node gRPC clients over h2c asking a real server, one stream per conversation,
// for both protocol versions (the messages are the same under two packages).
const versions = [
  { name: "v1", service: v1.ServerReflection },
  { name: "v1alpha", service: v1alpha.ServerReflection },
] as const;

describe.each(versions)("grpc.reflection.$name ServerReflection", ({ service }) => {
  let t: TestServer;
  beforeEach(async () => {
    t = await startTestServer();
  });
  afterEach(async () => {
    await t.close();
  });

  /** Asks each question in turn on one stream; returns the answers' message_response. */
  async function ask(...questions: Question[]) {
    const client = createClient(service, createGrpcTransport({ baseUrl: t.url }));
    async function* requests() {
      for (const q of questions) yield { host: "h", messageRequest: q };
    }
    const answers = [];
    for await (const res of client.serverReflectionInfo(requests())) {
      expect(res.validHost).toBe("h");
      answers.push(res.messageResponse);
    }
    expect(answers).toHaveLength(questions.length);
    return answers;
  }

  function files(answer: Awaited<ReturnType<typeof ask>>[number]): FileDescriptorProto[] {
    if (answer?.case !== "fileDescriptorResponse") throw new Error(`not files: ${JSON.stringify(answer)}`);
    return answer.value.fileDescriptorProto.map((b) => fromBinary(FileDescriptorProtoSchema, b));
  }

  it("lists the API and the reflection services", async () => {
    const [answer] = await ask({ case: "listServices", value: "" });
    expect(answer?.case).toBe("listServicesResponse");
    expect(answer?.case === "listServicesResponse" && answer.value.service.map((s) => s.name)).toEqual([
      "grpc.reflection.v1.ServerReflection",
      "grpc.reflection.v1alpha.ServerReflection",
      "tetragon.FineGuidanceSensors",
    ]);
  });

  it("describes a method with the schema the server speaks, dependencies included", async () => {
    const [answer] = await ask({
      case: "fileContainingSymbol",
      value: "tetragon.FineGuidanceSensors.GetEvents",
    });
    const got = files(answer);
    expect(got[0]?.name).toBe("tetragon/sensors.proto");
    // Every import, transitively, is in the answer: a client can build the whole schema from it.
    const byName = new Map(got.map((f) => [f.name, f]));
    for (const f of got) for (const dep of f.dependency) expect(byName.has(dep)).toBe(true);
    expect(byName.has("google/protobuf/timestamp.proto")).toBe(true);

    // Imports first, as a FileDescriptorSet wants them (reflection answers in no set order).
    const ordered: FileDescriptorProto[] = [];
    const visit = (f: FileDescriptorProto) => {
      if (ordered.includes(f)) return;
      for (const dep of f.dependency) visit(byName.get(dep) as FileDescriptorProto);
      ordered.push(f);
    };
    got.forEach(visit);
    const registry = createFileRegistry(create(FileDescriptorSetSchema, { file: ordered }));
    const method = registry
      .getService("tetragon.FineGuidanceSensors")
      ?.methods.find((m) => m.name === "GetEvents");
    expect(method?.methodKind).toBe("server_streaming");
    expect(method?.input.typeName).toBe(GetEventsRequestSchema.typeName);
    expect(method?.output.typeName).toBe(GetEventsResponseSchema.typeName);
    // Same fields, numbers and JSON names as the SDK's generated code.
    const fields = (m: DescMessage | undefined) =>
      m?.fields.map((f) => [f.number, f.name, f.jsonName, f.fieldKind]);
    expect(fields(method?.output)).toEqual(fields(GetEventsResponseSchema));
    expect(registry.getService(FineGuidanceSensors.typeName)?.methods.map((m) => m.name)).toEqual(
      FineGuidanceSensors.methods.map((m) => m.name),
    );
  });

  it("finds messages, fields, enums and enum values, and files by name", async () => {
    const answers = await ask(
      { case: "fileContainingSymbol", value: "tetragon.ProcessExec" },
      { case: "fileContainingSymbol", value: "tetragon.GetEventsRequest.allow_list" },
      { case: "fileContainingSymbol", value: "tetragon.EventType" },
      { case: "fileContainingSymbol", value: "tetragon.PROCESS_EXEC" },
      { case: "fileByFilename", value: "tetragon/tetragon.proto" },
    );
    expect(answers.map((a) => files(a)[0]?.name)).toEqual([
      "tetragon/tetragon.proto",
      "tetragon/events.proto",
      "tetragon/events.proto",
      "tetragon/events.proto",
      "tetragon/tetragon.proto",
    ]);
  });

  it("sends a dependency once per stream, the requested file always", async () => {
    const [first, second] = await ask(
      { case: "fileByFilename", value: "tetragon/events.proto" },
      { case: "fileByFilename", value: "tetragon/events.proto" },
    );
    expect(files(first).length).toBeGreaterThan(1);
    expect(files(second).map((f) => f.name)).toEqual(["tetragon/events.proto"]);
  });

  it("answers NotFound for unknown names, extensions and types, InvalidArgument for no question, and goes on", async () => {
    const answers = await ask(
      { case: "fileContainingSymbol", value: "tetragon.Nope" },
      { case: "fileByFilename", value: "nope.proto" },
      {
        case: "fileContainingExtension",
        value: {
          $typeName: "grpc.reflection.v1.ExtensionRequest",
          containingType: "tetragon.ProcessExec",
          extensionNumber: 1000,
        },
      },
      { case: "allExtensionNumbersOfType", value: "tetragon.Nope" },
      { case: "allExtensionNumbersOfType", value: "tetragon.ProcessExec" },
      { case: undefined },
      { case: "listServices", value: "" },
    );
    for (const a of answers.slice(0, 4)) {
      expect(a?.case).toBe("errorResponse");
      expect(a?.case === "errorResponse" && a.value.errorCode).toBe(Code.NotFound);
    }
    // The tetragon schema declares no extensions.
    expect(answers[4]).toMatchObject({
      case: "allExtensionNumbersResponse",
      value: { baseTypeName: "tetragon.ProcessExec", extensionNumber: [] },
    });
    expect(answers[5]).toMatchObject({ case: "errorResponse", value: { errorCode: Code.InvalidArgument } });
    expect(answers[6]?.case).toBe("listServicesResponse");
  });
});

describe("a server started with reflection: false", () => {
  it("answers Unimplemented", async () => {
    const t = await startTestServer({ reflection: false });
    try {
      const client = createClient(v1.ServerReflection, createGrpcTransport({ baseUrl: t.url }));
      async function* requests() {
        yield { messageRequest: { case: "listServices" as const, value: "" } };
      }
      const err = await (async () => {
        for await (const _ of client.serverReflectionInfo(requests())) {
          // no answer expected
        }
      })().catch((e: unknown) => e);
      expect(ConnectError.from(err).code).toBe(Code.Unimplemented);
    } finally {
      await t.close();
    }
  });
});
