// Cost of one compiled GetEvents filter per event: what each listener's filter adds to the
// hub's publish path (filters run there, synchronously, for every listener).
//
//   pnpm --filter @nsguard/sdk run build && node packages/sdk/bench/filter-cost.mjs
//
// Each event has a distinct binary and arguments, so the filter's repeat-of-last-input
// shortcut never applies. Filters are compiled with compileFilter, i.e. without the time budget
// that compileFilters adds for costly filters. Reported: the fastest of the rounds, in ns per event.
import { create } from "@bufbuild/protobuf";
import { compileFilter, FilterSchema, GetEventsResponseSchema } from "../dist/index.js";

const N = 20_000;
const ROUNDS = 7;
const longArgs = "x".repeat(4096);
const events = Array.from({ length: N }, (_, i) =>
  create(GetEventsResponseSchema, {
    event: {
      case: "processExec",
      value: {
        process: {
          pid: i,
          binary: `/usr/bin/tool-${i}`,
          arguments: i % 2 ? `--flag ${i}` : `${longArgs}${i}`,
          pod: {
            namespace: "default",
            name: `pod-${i}`,
            podLabels: { app: "web", generation: String(i % 10) },
          },
        },
      },
    },
  }),
);
const aaa = Array.from({ length: N }, (_, i) =>
  create(GetEventsResponseSchema, {
    event: { case: "processExec", value: { process: { pid: i, binary: "a".repeat(36 + (i % 8)) } } },
  }),
);
const d10 = "[0,1,2,3,4,5,6,7,8,9]";
const cases = [
  ["binary_regex literal (RE2)", { binaryRegex: ["tool-1"] }, events],
  ["binary_regex (a+)+b on 36-43 a's (RE2)", { binaryRegex: ["(a+)+b"] }, aaa],
  ["arguments_regex on 4 KiB / short arguments", { argumentsRegex: ["y+z"] }, events],
  ["labels generation>5", { labels: ["generation>5"] }, events],
  [
    "cel binary.startsWith",
    { celExpression: ['process_exec.process.binary.startsWith("/usr/bin/tool-1")'] },
    events,
  ],
  [
    "cel binary.matches (RE2, cached)",
    { celExpression: ['process_exec.process.binary.matches("tool-1[0-9]+$")'] },
    events,
  ],
  [
    "cel labels map + pid",
    {
      celExpression: [
        'process_exec.process.pod.pod_labels["app"] == "web" && process_exec.process.pid > 10u',
      ],
    },
    events,
  ],
  [
    "cel worst case: budget exhausted",
    {
      celExpression: [
        `${d10}.all(a, ${d10}.all(b, ${d10}.all(c, ${d10}.all(d, true)))) && process_exec.process.pid > 0u`,
      ],
    },
    events,
  ],
];
const js = /tool-1/;
const results = new Map();
const time = (fn, list) => {
  const start = process.hrtime.bigint();
  let hits = 0;
  for (const e of list) if (fn(e)) hits++;
  return [Number(process.hrtime.bigint() - start) / list.length, hits];
};
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, init, list] of cases) {
    const [ns, hits] = time(compileFilter(create(FilterSchema, init)), list);
    const prev = results.get(name);
    if (!prev || ns < prev[0]) results.set(name, [ns, hits]);
  }
  const [ns] = time((e) => js.test(e.event.value.process.binary), events);
  const prev = results.get("(JS RegExp literal, for comparison)");
  if (!prev || ns < prev[0]) results.set("(JS RegExp literal, for comparison)", [ns, 0]);
}
for (const [name, [ns, hits]] of results)
  console.log(`${name.padEnd(48)} ${ns.toFixed(0).padStart(8)} ns/event  (${hits} matched)`);
