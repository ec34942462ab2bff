// A Node service watching for container escapes: stream process_kprobe events of the
// namespace-access policy from pods only (host processes have no pod), print them in tetra's
// compact form, and stop cleanly on Ctrl-C. Run the agent first (`nsguard agent …`).
import { create } from "@bufbuild/protobuf";
import { compileFilters, createNsguardClient, EventType, FilterSchema, toCompact } from "@nsguard/sdk";

const address = process.argv[2] ?? "localhost:54321";
const client = createNsguardClient(address);
const abort = new AbortController();
process.once("SIGINT", () => abort.abort());

// Server-side filtering: only matching events cross the wire.
const allowList = [{ eventSet: [EventType.PROCESS_KPROBE], policyNames: ["namespace-access"] }];
// Client-side, the same Filter semantics are available for events from anywhere (files, replays).
const fromPods = compileFilters([], [create(FilterSchema, { namespace: [""] })]);

try {
  for await (const event of client.getEvents({ allowList }, { signal: abort.signal })) {
    if (fromPods(event)) console.log(toCompact(event));
  }
} catch (err) {
  if (!abort.signal.aborted) throw err;
}
