// One GetEvents client process for bench/run.mjs. Every 100 ms it prints one progress line,
//   <events> <kprobe events> <throttle events> <marker hits> <ms>        (ms = performance.now())
// and a last one when stdin closes, then exits. Modes:
// (The counting client that does not decode is bench/grpc-count.c: C costs the agent's core less.)
//   node count-client.mjs URL latency REQUEST_JSON   the SDK (decodes every event); on exit it
//       also prints "latency <count> <p50 ms> <p99 ms> <max ms>" of Date.now() - event time,
//       over the events since the last line on stdin (so a warm-up can be left out).
//   node count-client.mjs URL stall   REQUEST_JSON   opens the stream and never reads it.
// REQUEST_JSON is a GetEventsRequest in proto JSON, e.g. {"allowList":[{"eventSet":["PROCESS_KPROBE"]}]}.
import { connect } from "node:http2";
import { fromJson, toBinary } from "@bufbuild/protobuf";
import { createNsguardClient, GetEventsRequestSchema } from "../packages/sdk/dist/index.js";

const [url, mode, requestJson = "{}"] = process.argv.slice(2);
const request = fromJson(GetEventsRequestSchema, JSON.parse(requestJson));

const counts = { events: 0, kprobe: 0, throttle: 0, marker: 0 };
const latencies = [];
const line = () =>
  `${counts.events} ${counts.kprobe} ${counts.throttle} ${counts.marker} ${performance.now()}\n`;
const ticker = setInterval(() => process.stdout.write(line()), 100);
const finish = () => {
  clearInterval(ticker);
  let out = line();
  if (mode === "latency") {
    const sorted = latencies.sort((a, b) => a - b);
    const at = (q) =>
      sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : NaN;
    out += `latency ${sorted.length} ${at(0.5)} ${at(0.99)} ${sorted.at(-1) ?? NaN}\n`;
  }
  process.stdout.write(out, () => process.exit(0));
};
process.stdin.resume();
process.stdin.on("data", () => {
  latencies.length = 0;
});
process.stdin.on("end", finish);

if (mode === "stall") {
  const session = connect(url);
  session.on("error", (err) => process.stderr.write(`count-client: ${err.message}\n`));
  const stream = session.request({
    ":method": "POST",
    ":path": "/tetragon.FineGuidanceSensors/GetEvents",
    "content-type": "application/grpc+proto",
    te: "trailers",
  });
  stream.on("error", (err) => process.stderr.write(`count-client: ${err.message}\n`));
  const body = toBinary(GetEventsRequestSchema, request);
  const frame = Buffer.alloc(5 + body.length);
  frame.writeUInt32BE(body.length, 1);
  frame.set(body, 5);
  stream.end(frame);
  // Paused, node stops consuming, so HTTP/2 flow control stops the server within a window.
  stream.pause();
} else if (mode === "latency") {
  const abort = new AbortController();
  process.stdin.on("end", () => abort.abort());
  try {
    for await (const res of createNsguardClient(url).getEvents(request, { signal: abort.signal })) {
      const now = Date.now();
      counts.events++;
      if (res.event.case === "processKprobe") counts.kprobe++;
      if (res.event.case === "processThrottle") counts.throttle++;
      if (res.time) latencies.push(now - (Number(res.time.seconds) * 1000 + res.time.nanos / 1e6));
    }
  } catch (err) {
    if (!abort.signal.aborted) throw err;
  }
} else {
  process.stderr.write(`count-client: unknown mode ${mode}\n`);
  process.exit(2);
}
