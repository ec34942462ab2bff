// A Node service watching for container escapes: stream setns/unshare kprobe events of the
// namespace-access policy from pods only, print them in tetra's compact form, keep going
// across agent restarts, and stop cleanly on Ctrl-C (SIGINT) or SIGTERM.
// Run the agent first (`nsguard agent …`), then: node dist/main.js [address]
import { createNsguardClient, EventType, filter, streamEvents, toCompact } from "@nsguard/sdk";

const address = process.argv[2] ?? "localhost:54321";
const abort = new AbortController();
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => abort.abort());

// Server-side filtering: only matching events cross the wire. Filters in one list are ORed;
// fields of one filter are ANDed. `namespaceRegex(".")` means "from some pod": host processes
// have no pod namespace.
const request = {
  allowList: [
    filter().eventTypes(EventType.PROCESS_KPROBE).policyNames("namespace-access").namespaceRegex(".").build(),
  ],
};

const events = streamEvents(createNsguardClient(address), request, {
  signal: abort.signal,
  // Events published while the stream is down are not replayed: say so.
  onReconnect: ({ attempt, delayMs, error }) =>
    console.error(`stream lost (${error?.message ?? "ended"}); retry ${attempt} in ${delayMs} ms`),
});
for await (const event of events) {
  console.log(toCompact(event));
}
