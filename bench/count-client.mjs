// One gRPC client for bench/run.mjs: streams GetEvents (kprobe events of the bench loop only) and
// prints `<count> <ms>` every 100 ms, where ms is performance.now(). Exits when stdin closes.
import { createNsguardClient, EventType } from "../packages/sdk/dist/index.js";

const [url] = process.argv.slice(2);
const client = createNsguardClient(url);
const abort = new AbortController();
let count = 0;

process.stdin.resume();
process.stdin.on("end", () => abort.abort());
const ticker = setInterval(() => process.stdout.write(`${count} ${performance.now()}\n`), 100);

try {
  for await (const _ of client.getEvents(
    { allowList: [{ eventSet: [EventType.PROCESS_KPROBE], binaryRegex: ["setns-loop$"] }] },
    { signal: abort.signal },
  )) {
    count++;
  }
} catch (err) {
  if (!abort.signal.aborted) throw err;
}
clearInterval(ticker);
process.stdout.write(`${count} ${performance.now()}\n`);
process.exit(0);
