// One gRPC client for bench/run.mjs: streams GetEvents (kprobe events of the bench loop only) and
// prints `<count> <ms>` every 100 ms (ms = performance.now()). Exits when stdin closes.
//   node count-client.mjs URL sdk   the generated SDK over connect-node: decodes every message
//   node count-client.mjs URL raw   node:http2 + gRPC framing, counts messages without decoding
//                                   (what the server can deliver, independent of client cost)
import { connect } from "node:http2";
import { create, toBinary } from "@bufbuild/protobuf";
import { createNsguardClient, EventType, GetEventsRequestSchema } from "../packages/sdk/dist/index.js";

const [url, mode = "sdk"] = process.argv.slice(2);
const request = {
  allowList: [{ eventSet: [EventType.PROCESS_KPROBE], binaryRegex: ["setns-loop$"] }],
};
let count = 0;
const ticker = setInterval(() => process.stdout.write(`${count} ${performance.now()}\n`), 100);
const finish = () => {
  clearInterval(ticker);
  process.stdout.write(`${count} ${performance.now()}\n`);
  process.exit(0);
};
process.stdin.resume();
process.stdin.on("end", finish);

if (mode === "raw") {
  const session = connect(url);
  const stream = session.request({
    ":method": "POST",
    ":path": "/tetragon.FineGuidanceSensors/GetEvents",
    "content-type": "application/grpc+proto",
    te: "trailers",
  });
  const body = toBinary(GetEventsRequestSchema, create(GetEventsRequestSchema, request));
  const frame = Buffer.alloc(5 + body.length);
  frame.writeUInt32BE(body.length, 1);
  frame.set(body, 5);
  stream.end(frame);
  // Walk the 5-byte gRPC message headers across chunk boundaries.
  let pending = Buffer.alloc(0);
  stream.on("data", (chunk) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    let at = 0;
    while (pending.length - at >= 5) {
      const length = pending.readUInt32BE(at + 1);
      if (pending.length - at < 5 + length) break;
      at += 5 + length;
      count++;
    }
    pending = pending.subarray(at);
  });
} else {
  const abort = new AbortController();
  process.stdin.on("end", () => abort.abort());
  try {
    for await (const _ of createNsguardClient(url).getEvents(request, { signal: abort.signal })) count++;
  } catch (err) {
    if (!abort.signal.aborted) throw err;
  }
}
