// Cost of EventHub.publish per event and per subscriber, measured side by side in one run.
//
//   pnpm --filter @nsguard/server run build
//   node packages/server/bench/publish-cost.mjs [other-dist-dir ...]
//
// Each extra argument is another build's dist directory (e.g. an older EventHub compiled
// elsewhere) measured in the same process, interleaved round by round, so that the noise of a
// shared machine hits every variant alike. The encoding (paid once per event, whatever the
// hub does: the hub needs the size, the gRPC writer the bytes) is measured on its own; for
// the hub's own cost every variant's HubEvent.bytes returns a fixed buffer. Reported: the
// fastest of the rounds, ns per published event, and (t(N subscribers) - t(0)) / N, the cost
// per subscriber.
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { GetEventsResponseSchema } from "@nsguard/sdk";

const here = new URL(".", import.meta.url);
const dists = [new URL("../dist/", here).pathname, ...process.argv.slice(2).map((d) => resolve(d))];
const variants = await Promise.all(
  dists.map(async (dir, i) => ({
    name: i === 0 ? "this build" : dir,
    EventHub: (await import(pathToFileURL(`${dir}/event-hub.js`).href)).EventHub,
    HubEvent: (await import(pathToFileURL(`${dir}/hub-event.js`).href)).HubEvent,
  })),
);
const EVENTS = 200_000;
const ROUNDS = 15;
const SOURCES = 8;
// Small events: the encoding cost measured below is a lower bound for real ones (the hub's
// own cost does not depend on them, see the fixed size below).
const messages = Array.from({ length: 1024 }, (_, i) =>
  create(GetEventsResponseSchema, { nodeName: "node-1", time: timestampFromMs(1_700_000_000_000 + i) }),
);

const encodeNs = (() => {
  const { HubEvent } = variants[0];
  const round = () => {
    const start = process.hrtime.bigint();
    for (let i = 0; i < 100_000; i++) new HubEvent(messages[i & 1023]).bytes;
    return Number(process.hrtime.bigint() - start) / 100_000;
  };
  round(); // warm-up
  return Math.min(round(), round(), round());
})();
const fixed = new Uint8Array(300); // about a setns event's encoded size
for (const { HubEvent } of variants) {
  Object.defineProperty(HubEvent.prototype, "bytes", { get: () => fixed });
}

/**
 * live: every subscriber takes what piled up every 64 events (a reader keeping up).
 * flooded: every subscriber is stalled on a full queue of 1000, source 1 sends 7 of 8 events:
 * each publish goes through the overflow path (an eviction or a refusal) for each subscriber.
 */
function run(EventHub, scenario, subscribers) {
  const hub = new EventHub({ queueSize: scenario === "flooded" ? 1000 : 10000 });
  const subs = Array.from({ length: subscribers }, () =>
    hub.subscribe({ signal: new AbortController().signal }),
  );
  // live: 8 sources in turn; flooded: source 1 sends 7 of 8 events, source 2 the rest.
  const meta = Array.from({ length: SOURCES }, (_, s) => ({
    source: scenario === "live" ? s + 1 : s === 0 ? 2 : 1,
  }));
  const start = process.hrtime.bigint();
  for (let i = 0; i < EVENTS; i++) {
    const event = hub.publish(messages[i & 1023], meta[i % SOURCES]);
    event.bytes;
    if (scenario === "live" && (i & 63) === 63) {
      for (const s of subs) s.drain(Number.POSITIVE_INFINITY);
    }
  }
  const ns = Number(process.hrtime.bigint() - start) / EVENTS;
  for (const s of subs) s.close();
  return ns;
}

const fastest = (xs) => Math.min(...xs);
const cases = [];
for (const scenario of ["live", "flooded"]) for (const n of [0, 1, 4]) cases.push({ scenario, n });
const samples = new Map();
for (let round = 0; round < ROUNDS + 1; round++) {
  for (const v of variants) {
    for (const c of cases) {
      const ns = run(v.EventHub, c.scenario, c.n);
      if (round === 0) continue; // warm-up
      const key = `${v.name}|${c.scenario}|${c.n}`;
      samples.set(key, [...(samples.get(key) ?? []), ns]);
    }
  }
}
console.log(`encoding one event: ${encodeNs.toFixed(0)} ns (paid once per event in every variant)`);
console.log(`${EVENTS} events x ${ROUNDS} rounds, fastest round, ns per event (per subscriber in brackets)`);
for (const v of variants) {
  for (const scenario of ["live", "flooded"]) {
    const t = (n) => fastest(samples.get(`${v.name}|${scenario}|${n}`));
    const per = (n) => ((t(n) - t(0)) / n).toFixed(0);
    console.log(
      `${v.name.padEnd(24)} ${scenario.padEnd(8)} 0 subs ${t(0).toFixed(0).padStart(5)}  ` +
        `1 sub ${t(1).toFixed(0).padStart(5)} [${per(1)}]  4 subs ${t(4).toFixed(0).padStart(5)} [${per(4)}]`,
    );
  }
}
