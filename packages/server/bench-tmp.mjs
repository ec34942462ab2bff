// Throughput probe (not committed). Parent: server + publisher. Child: K grpc-js streams (raw bytes).
import { fork } from "node:child_process";
import * as grpc from "@grpc/grpc-js";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { GetEventsRequestSchema, GetEventsResponseSchema, ProcessKprobeSchema, KprobeArgumentSchema, KprobeAction } from "@nsguard/sdk";
import { EventHub, HubEvent, startServer, createFineGuidanceSensorsRoutes } from "./dist/index.js";

if (process.argv[2] === "client") {
  const [port, k] = [process.argv[3], Number(process.argv[4])];
  const Client = grpc.makeGenericClientConstructor({ GetEvents: { path: "/tetragon.FineGuidanceSensors/GetEvents", requestStream: false, responseStream: true,
    requestSerialize: (r) => Buffer.from(r), requestDeserialize: (b) => b, responseSerialize: (b) => b, responseDeserialize: (b) => b } }, "S");
  let n = 0;
  for (let i = 0; i < k; i++) {
    const c = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    c.GetEvents(toBinary(GetEventsRequestSchema, create(GetEventsRequestSchema))).on("data", () => n++).on("error", () => {});
  }
  setInterval(() => process.send({ n }), 250);
} else {
  const mode = process.argv[2] ?? "shell"; const k = Number(process.argv[3] ?? 1);
  const hub = new EventHub({ queueSize: 10000 });
  // "plain": make every stream serialise the real message (what connect does without the shell).
  class PlainHubEvent extends HubEvent { forWire() { return this.message; } }
  const events = mode === "plain"
    ? { subscribe: (o) => ({ async *[Symbol.asyncIterator]() { for await (const e of hub.subscribe(o)) yield new PlainHubEvent(e.message); } }) }
    : hub;
  const server = await startServer({ routes: createFineGuidanceSensorsRoutes({ events, version: "b" }), tcpAddress: "127.0.0.1:0" });
  const ev = (i) => create(GetEventsResponseSchema, { event: { case: "processKprobe", value: create(ProcessKprobeSchema, {
    process: { execId: "bm9kZS0xOjEyMzQ1Njc4OTA6MTIzNDU=", pid: 4000 + i, uid: 0, binary: "/usr/bin/nsenter", arguments: "--target 1 --mount --uts --ipc --net --pid -- /bin/sh -c id", flags: "execve clone", cwd: "/root",
      startTime: timestampFromMs(1.7e12 + i), pod: { namespace: "prod", name: "web-7d9c", podLabels: { app: "web", tier: "fe" }, container: { id: "containerd://abc123", name: "web" } }, docker: "abc123def456", parentExecId: "bm9kZS0xOjEyMzQ1Njc4OTA6MTIz", refcnt: 1, inInitTree: false },
    parent: { execId: "bm9kZS0xOjEyMzQ1Njc4OTA6MTIz", pid: 3999, binary: "/bin/bash", arguments: "-l" },
    functionName: "__x64_sys_setns", policyName: "namespace-access", action: KprobeAction.POST,
    args: [create(KprobeArgumentSchema, { arg: { case: "intArg", value: 3 } }), create(KprobeArgumentSchema, { arg: { case: "sizeArg", value: 0x40000000n } })] }) },
    nodeName: "node-1", time: timestampFromMs(1.7e12 + i), nodeLabels: { zone: "a" } });
  console.error("event bytes", toBinary(GetEventsResponseSchema, ev(0)).length);
  const child = fork(new URL(import.meta.url).pathname, ["client", String(server.addresses.tcp.port), String(k)]);
  let clientN = 0; child.on("message", (m) => { clientN = m.n; });
  while (hub.subscriberCount < k) await new Promise((r) => setTimeout(r, 10));
  let i = 0; let running = true;
  const pump = () => {
    if (!running) return;
    const maxQ = Math.max(0, ...hub.stats().perSubscriber.map((s) => s.queueLength));
    if (maxQ < 5000) for (let j = 0; j < 200; j++) hub.publish(ev(i++));
    setImmediate(pump);
  };
  pump();
  const cpu0 = process.cpuUsage(); await new Promise((r) => setTimeout(r, 1500)); // warm-up
  const n0 = clientN, t0 = Date.now(), c0 = process.cpuUsage();
  await new Promise((r) => setTimeout(r, 5000));
  const n1 = clientN, t1 = Date.now(), c1 = process.cpuUsage(c0);
  running = false;
  const rate = ((n1 - n0) / ((t1 - t0) / 1000));
  console.log(JSON.stringify({ mode, clients: k, deliveredPerSec: Math.round(rate), perClient: Math.round(rate / k), serverCpuPct: Math.round(((c1.user + c1.system) / 1000) / (t1 - t0) * 100), dropped: hub.stats().dropped }));
  child.kill(); await server.close({ graceMs: 100 }); process.exit(0);
}
