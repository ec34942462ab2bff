import * as http2 from "node:http2";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { FineGuidanceSensors, GetEventsResponseSchema } from "@nsguard/sdk";
import { create } from "@bufbuild/protobuf";
const ev = create(GetEventsResponseSchema, { event: { case: "processExec", value: { process: { binary: "/bin/true" } } }, nodeName: "n" });
const s = http2.createServer(connectNodeAdapter({ routes: (r) => r.service(FineGuidanceSensors, {
  async *getEvents(_req, ctx) { yield ev; await new Promise((res) => ctx.signal.addEventListener("abort", res)); },
}) }));
s.listen(0, "127.0.0.1", () => console.log(s.address().port));
