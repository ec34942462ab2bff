// nsguard benchmarks, run on demand (`npm run bench`, as root, after `npm test` or `npm run demo`
// has built everything). Every figure is a ratio or a count measured side by side in this one run:
// absolute timings wander on a shared machine.
//
// 1. setns cost: the same setns loop with the agent running but no policy, and with the seed's
//    monitoring policy loaded, alternating rounds; medians and their ratio.
// 2. end to end: a burst of setns calls through the kernel, ring buffer, reader thread, process
//    cache, event builder, hub and gRPC to one client process; events/s at the client, and every
//    lost event counted where it was lost.
import { execFile, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { startAgent } from "../packages/agent/dist/index.js";

const here = new URL(".", import.meta.url).pathname;
const root = join(here, "..");
const loopBin = join(here, ".build/setns-loop");
const policyYaml = readFileSync(join(root, "examples/namespace-access.yaml"), "utf8");
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
// Small enough that one round's records fit the 8 MiB ring buffer: the monitored rounds then pay
// for every event in full (a full ring makes calls cheaper, which would flatter the ratio).
const CALLS = Number(process.env.BENCH_CALLS ?? 30000);
const BURST = Number(process.env.BENCH_BURST ?? 200000);

if (process.getuid() !== 0) {
  console.error("bench needs root (it loads BPF programs)");
  process.exit(1);
}
const source = join(here, "setns-loop.c");
if (!existsSync(loopBin) || statSync(loopBin).mtimeMs < statSync(source).mtimeMs) {
  mkdirSync(join(here, ".build"), { recursive: true });
  execFileSync("cc", ["-O2", "-o", loopBin, source]);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
// Async: the agent runs in this process and must keep handling events while the loop runs.
const loop = async (calls, which = "setns") => {
  const [wall, cpu] = (await promisify(execFile)(loopBin, [String(calls), which])).stdout
    .trim()
    .split(" ")
    .map(Number);
  return { wall, cpu };
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const agent = await startAgent({
  tracingPolicies: [],
  serverAddress: "127.0.0.1:0",
  serverSocket: "",
  nodeName: "bench",
  eventQueueSize: 100000,
  logLevel: "silent",
});
// BENCH_PROFILE=file.cpuprofile: CPU profile of the agent side from here on (node --cpu-prof would
// also profile BPF loading, where its SIGPROF makes the verifier give up with EAGAIN).
const profiler = process.env.BENCH_PROFILE ? await startProfiler() : undefined;
const addPolicy = () => agent.policies.add(policyYaml, "bench");
const deletePolicy = () => agent.policies.delete("namespace-access", "", "bench");

try {
  // ---- 1. setns cost ------------------------------------------------------------------------
  await loop(20000); // warm-up
  const off = [];
  const on = [];
  const otherOff = [];
  const otherOn = [];
  const ringFullBefore = snapshot().ringbufFull;
  for (let r = 0; r < ROUNDS; r++) {
    off.push(await loop(CALLS));
    otherOff.push(await loop(CALLS * 10, "getppid"));
    await addPolicy();
    on.push(await loop(CALLS));
    otherOn.push(await loop(CALLS * 10, "getppid"));
    await deletePolicy();
    await drained(); // the next round starts with an empty ring buffer and an idle agent
  }
  const ringFullDuringRounds = snapshot().ringbufFull - ringFullBefore;
  console.log(`setns cost (${ROUNDS} alternating rounds of ${CALLS} calls, medians, ns/call)`);
  console.log("                                 CPU of the caller   wall clock");
  const row = (label, runs) =>
    `  ${label.padEnd(31)}${median(runs.map((r) => r.cpu))
      .toFixed(0)
      .padStart(8)}${median(runs.map((r) => r.wall))
      .toFixed(0)
      .padStart(13)}`;
  console.log(row("agent running, no policy", off));
  console.log(row("namespace-access policy", on));
  const ratio = (key) => (median(on.map((r) => r[key])) / median(off.map((r) => r[key]))).toFixed(2);
  console.log(
    `  ratio                          ${`${ratio("cpu")}x`.padStart(8)}${`${ratio("wall")}x`.padStart(13)}`,
  );
  // Every syscall pays for the syscall tracepoints being enabled and for the compat-entry check.
  console.log(row("getppid, no policy", otherOff));
  console.log(row("getppid, namespace-access", otherOn));
  console.log("  (wall clock includes waiting for a core while the agent handles the events: 2 cores here)");
  console.log(`  records lost to a full ring buffer during these rounds: ${ringFullDuringRounds}`);

  // ---- 2. end to end --------------------------------------------------------------------------
  await addPolicy();
  for (const mode of ["sdk", "raw"]) await endToEnd(mode);
} finally {
  await profiler?.stop();
  await agent.stop();
}

async function startProfiler() {
  const { Session } = await import("node:inspector/promises");
  const { writeFileSync } = await import("node:fs");
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.start");
  return {
    async stop() {
      const { profile } = await session.post("Profiler.stop");
      writeFileSync(process.env.BENCH_PROFILE, JSON.stringify(profile));
    },
  };
}

/**
 * A burst of BURST setns calls while one client process streams the resulting events: what it
 * received, at what rate, and every lost event by the stage that lost it.
 */
async function endToEnd(mode) {
  const client = spawn(
    process.execPath,
    [join(here, "count-client.mjs"), agent.server.addresses.tcp.url, mode],
    {
      stdio: ["pipe", "pipe", "inherit"],
    },
  );
  let progress = { count: 0, ms: 0 };
  client.stdout.on("data", (d) => {
    const [count, ms] = d.toString().trim().split("\n").pop().split(" ").map(Number);
    progress = { count, ms };
  });
  // The stream is live once a warm-up event arrives; then let the warm-up settle.
  for (let i = 0; i < 50 && progress.count === 0; i++) {
    await loop(10);
    await sleep(200);
  }
  await sleep(500);
  const warmup = progress.count;
  const before = snapshot();
  const cpuBefore = process.cpuUsage();
  const start = { ...progress };
  let loopDone = false;
  const produced = loop(BURST).then(() => {
    loopDone = true;
  });
  // Done when the client's count has not moved for 1.5 s after the loop ended.
  let end = { ...progress };
  for (let idle = 0, last = progress.count; idle < 15; ) {
    await sleep(100);
    if (progress.count !== last) {
      last = progress.count;
      end = { ...progress };
      idle = 0;
    } else if (loopDone) idle++;
  }
  await produced;
  const cpu = process.cpuUsage(cpuBefore);
  const after = snapshot();
  client.stdin.end();
  await new Promise((r) => client.on("close", r));
  const delivered = end.count - warmup;
  const lost = {
    "kernel ring buffer full*": after.ringbufFull - before.ringbufFull,
    "native reader": after.readerDropped - before.readerDropped,
    "gRPC listener queue full": after.hubDropped - before.hubDropped,
  };
  const accounted = Object.values(lost).reduce((a, b) => a + b, 0);
  const label = mode === "sdk" ? "the SDK client (decodes every event)" : "a raw gRPC client (counts frames)";
  console.log(`\nend to end: ${BURST} setns calls -> kernel -> agent -> ${label}`);
  console.log(`  delivered                        ${delivered}`);
  for (const [where, n] of Object.entries(lost))
    console.log(`  lost: ${where.padEnd(27)}${String(n).padStart(8)}`);
  console.log(`  unaccounted*                     ${BURST - delivered - accounted}`);
  console.log(
    `  rate at the client               ${Math.round((delivered * 1000) / (end.ms - start.ms))} events/s`,
  );
  // The agent is this process: its CPU time (all threads) per event handled is its capacity,
  // whatever the setns loop and the client take of the two cores.
  const cpuPerEvent = (cpu.user + cpu.system) / (after.published - before.published);
  console.log(
    `  agent CPU per event              ${cpuPerEvent.toFixed(1)} us (${Math.round(1e6 / cpuPerEvent)} events/s per core)`,
  );
  console.log("  * the kernel counts every record it could not queue, including other processes' exec/exit");
}

/** Resolves once the agent has published nothing new for 300 ms. */
async function drained() {
  let last = -1;
  while (agent.hub.stats().published !== last) {
    last = agent.hub.stats().published;
    await sleep(300);
  }
}

function snapshot() {
  const { kernel, reader } = agent.sensor.counters();
  return {
    ringbufFull: Number(kernel.ringbufFull),
    readerDropped: Number(reader.droppedEvents),
    hubDropped: agent.hub.stats().dropped,
    published: agent.hub.stats().published,
  };
}
