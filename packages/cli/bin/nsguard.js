#!/usr/bin/env node
import { spawn } from "node:child_process";
import { constants } from "node:os";

// The agent's heap. With V8's default young generation (16 MiB semi-spaces) a 100k events/s
// stream grows the agent to ~180 MB resident; 4 MiB semi-spaces keep it ~25 MB lower with no
// measurable CPU cost (side by side: 10.9 vs 11.6 µs of agent CPU per event). Heap sizes can only
// be set when V8 starts, so `nsguard agent` runs itself once more with the flag (or is started
// with it: `node --max-semi-space-size=4 nsguard.js agent`, as bench/run.mjs does).
const AGENT_HEAP_FLAG = "--max-semi-space-size=4";

if (process.argv[2] === "agent" && !process.execArgv.some((f) => f.startsWith("--max-semi-space-size"))) {
  const agent = spawn(process.execPath, [...process.execArgv, AGENT_HEAP_FLAG, ...process.argv.slice(1)], {
    stdio: "inherit",
  });
  // The agent detaches its BPF programs on SIGINT/SIGTERM: whoever signals us means it.
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => agent.kill(signal));
  agent.on("exit", (code, signal) => {
    process.exitCode = code ?? 128 + (signal ? constants.signals[signal] : 0);
  });
} else {
  const { main } = await import("../dist/index.js");
  main(process.argv).then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      process.stderr.write(`nsguard: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
