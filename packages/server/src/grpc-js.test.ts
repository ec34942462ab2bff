import { create, equals, fromBinary, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import {
  type GetEventsRequest,
  GetEventsRequestSchema,
  GetEventsResponseSchema,
  type GetHealthStatusRequest,
  GetHealthStatusRequestSchema,
  GetHealthStatusResponseSchema,
} from "@nsguard/sdk";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { sampleKprobeEvent } from "./testing/events.js";
import { startTestServer, type TestServer } from "./testing/test-server.js";
import { waitFor } from "./testing/wait-for.js";

// @grpc/grpc-js stands for "existing Tetragon clients": a gRPC implementation that shares no
// code with connect-es, given only the method paths and byte-level (de)serialisers — what a
// client generated from Tetragon's own protos does.
const identity = (b: Buffer) => b;
const methods = {
  GetEvents: {
    path: "/tetragon.FineGuidanceSensors/GetEvents",
    requestStream: false,
    responseStream: true,
    requestSerialize: (r: GetEventsRequest) => Buffer.from(toBinary(GetEventsRequestSchema, r)),
    requestDeserialize: (b: Buffer) => fromBinary(GetEventsRequestSchema, b),
    // Keep the raw bytes: the test compares them with toBinary(event).
    responseSerialize: identity,
    responseDeserialize: identity,
  },
  GetHealth: {
    path: "/tetragon.FineGuidanceSensors/GetHealth",
    requestStream: false,
    responseStream: false,
    requestSerialize: (r: GetHealthStatusRequest) => Buffer.from(toBinary(GetHealthStatusRequestSchema, r)),
    requestDeserialize: (b: Buffer) => fromBinary(GetHealthStatusRequestSchema, b),
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

interface GenericClient extends grpc.Client {
  GetEvents(request: GetEventsRequest): grpc.ClientReadableStream<Buffer>;
  GetHealth(
    request: GetHealthStatusRequest,
    callback: (error: grpc.ServiceError | null, response?: Buffer) => void,
  ): void;
}
const FineGuidanceSensorsClient = grpc.makeGenericClientConstructor(
  methods,
  "FineGuidanceSensors",
) as unknown as new (
  address: string,
  credentials: grpc.ChannelCredentials,
) => GenericClient;

describe("@grpc/grpc-js client (an existing gRPC client)", () => {
  let t: TestServer;
  const clients: GenericClient[] = [];
  beforeEach(async () => {
    t = await startTestServer({ queueSize: 64 });
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await t.close();
  });

  function client(target: string): GenericClient {
    const c = new FineGuidanceSensorsClient(target, grpc.credentials.createInsecure());
    clients.push(c);
    return c;
  }

  for (const via of ["tcp", "unix"] as const) {
    it(`streams GetEvents byte for byte over ${via}`, async () => {
      const c = client(
        via === "tcp" ? `127.0.0.1:${t.server.addresses.tcp?.port}` : `unix://${t.socketPath}`,
      );
      const received: Buffer[] = [];
      const errors: grpc.ServiceError[] = [];
      const call = c.GetEvents(create(GetEventsRequestSchema, { allowList: [{ namespace: ["prod"] }] }));
      call.on("data", (b: Buffer) => received.push(b));
      call.on("error", (e: grpc.ServiceError) => errors.push(e));
      await waitFor(() => t.hub.subscriberCount === 1, "the stream to subscribe");
      const prod = [1, 2, 3].map((i) => sampleKprobeEvent(i, { namespace: "prod" }));
      for (const e of prod) {
        t.hub.publish(e);
        t.hub.publish(sampleKprobeEvent(100));
      }
      await waitFor(() => received.length === prod.length, "the events");
      received.forEach((bytes, i) => {
        const sent = prod[i];
        if (sent === undefined) throw new Error("unexpected event");
        expect(bytes.equals(Buffer.from(toBinary(GetEventsResponseSchema, sent)))).toBe(true);
        expect(equals(GetEventsResponseSchema, fromBinary(GetEventsResponseSchema, bytes), sent)).toBe(true);
      });
      call.cancel();
      await waitFor(() => t.hub.subscriberCount === 0, "the cancelled stream to unsubscribe");
      expect(errors.map((e) => e.code)).toEqual([grpc.status.CANCELLED]);
    });
  }

  it("gets INVALID_ARGUMENT for a bad filter", async () => {
    const c = client(`127.0.0.1:${t.server.addresses.tcp?.port}`);
    const call = c.GetEvents(create(GetEventsRequestSchema, { denyList: [{ podRegex: ["[z-a]"] }] }));
    const error = await new Promise<grpc.ServiceError>((resolve) => call.on("error", resolve));
    expect(error.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(error.details).toContain("pod_regex");
  });

  it("calls GetHealth", async () => {
    const c = client(`127.0.0.1:${t.server.addresses.tcp?.port}`);
    const bytes = await new Promise<Buffer>((resolve, reject) =>
      c.GetHealth(create(GetHealthStatusRequestSchema), (err, res) =>
        err || !res ? reject(err) : resolve(res),
      ),
    );
    expect(fromBinary(GetHealthStatusResponseSchema, bytes).healthStatus[0]?.details).toBe("running");
  });
});
