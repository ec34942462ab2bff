// `npm run demo`: the agent with the seed's policy, a simulated container escape, the events shown.
//
// 1. starts `nsguard agent --tracing-policy examples/namespace-access.yaml` (the seed's policy,
//    unchanged) with pod metadata for one container (there is no Kubernetes API here);
// 2. starts two `nsguard getevents` clients (compact and JSON) against its gRPC port;
// 3. makes a container without a runtime — its own pid/mnt/uts/ipc/net namespaces, in a cgroup
//    named like a containerd container — and runs `nsenter -t <host anchor> -m -u -n -i` inside
//    it, the escape of the seed (a host-side anchor replaces pid 1, whose /proc/1/ns/* this
//    platform hides even from root; no -p: the container has its own pid namespace, and setns into
//    an ancestor pid namespace fails with EINVAL);
// 4. prints the events, then does the same under the seed's deny policy (Sigkill);
// 5. removes everything it created.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SimulatedContainer, startHostAnchor } from "../packages/agent/dist/index.js";

const root = new URL("..", import.meta.url).pathname;
const nsguard = join(root, "packages/cli/bin/nsguard.js");
const CONTAINER_ID = "057dc8d712abf96c628c82ea111d53a205a256b0dc39bb31284426aaf378acbc"; // the seed's
const address = "127.0.0.1:54321"; // the agent's default port

if (process.getuid() !== 0) {
  console.error("npm run demo needs root (it loads BPF programs and creates namespaces)");
  process.exit(1);
}

const work = mkdtempSync(join(tmpdir(), "nsguard-demo-"));
const children = [];
const say = (text) => console.log(`\n\x1b[1m== ${text}\x1b[0m`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function run(args, options = {}) {
  const child = spawn(process.execPath, [nsguard, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    ...options,
  });
  child.out = "";
  child.err = "";
  child.stdout.on("data", (d) => {
    child.out += d;
  });
  child.stderr.on("data", (d) => {
    child.err += d;
  });
  child.done = new Promise((resolve) => child.on("close", (code) => resolve(code)));
  children.push(child);
  return child;
}

async function waitForAgent(agent) {
  for (let i = 0; i < 100; i++) {
    const status = run(["status", "--server-address", address]);
    if ((await status.done) === 0) return;
    if (agent.exitCode !== null) break;
    await sleep(200);
  }
  throw new Error(`the agent did not come up:\n${agent.err}`);
}

async function scenario(policyFile, script) {
  const agent = run([
    "agent",
    "--tracing-policy",
    join(root, "examples", policyFile),
    "--server-address",
    address,
    "--server-socket",
    join(work, "nsguard.sock"),
    "--pod-info-file",
    join(root, "examples/demo/pod-info.json"),
    "--log-level",
    "warn",
  ]);
  await waitForAgent(agent);
  // Only our pod's kprobe events: the machine may have other setns callers.
  const filter = ["--event-types", "PROCESS_KPROBE", "--namespace", "default", "--server-address", address];
  const compact = run(["getevents", "-o", "compact", ...filter]);
  const json = run(["getevents", "-o", "json", ...filter]);
  const container = new SimulatedContainer({
    id: CONTAINER_ID,
    hostname: "xwing",
    cgroupParent: "nsguard-demo",
  });
  let result;
  try {
    // Warm-up: a harmless setns (into the container's own netns) until both clients show it, so
    // we know their streams are live before the escape; then forget what they printed.
    for (let i = 0; i < 50 && !(compact.out && json.out); i++) {
      await container.run("nsenter --net=/proc/self/ns/net true");
      await sleep(100);
    }
    compact.out = "";
    json.out = "";
    result = await container.run(script);
  } finally {
    container.remove();
  }
  await sleep(500); // events delivered (the reader polls the ring buffer every 10 ms)
  for (const c of [compact, json]) c.kill("SIGINT");
  await Promise.all([compact.done, json.done]);
  agent.kill("SIGTERM");
  const agentCode = await agent.done;
  if (agentCode !== 0) throw new Error(`agent exited with ${agentCode}:\n${agent.err}`);
  return { result, compact: compact.out.trim(), json: json.out.trim().split("\n").filter(Boolean) };
}

const anchor = startHostAnchor();
let failed = false;
try {
  say(`Host anchor: pid ${anchor.pid} (a host-side process whose namespaces the escape enters)`);
  say("Monitoring: examples/namespace-access.yaml (the seed's policy, unchanged)");
  console.log(readFileSync(join(root, "examples/namespace-access.yaml"), "utf8").trimEnd());
  const escapeCommand = `nsenter -t ${anchor.pid} -m -u -n -i hostname`;
  say(`In container xwing (own pid/mnt/uts/ipc/net namespaces): ${escapeCommand}`);
  const monitor = await scenario(
    "namespace-access.yaml",
    `bash -c 'echo "inside:  hostname=$(hostname)"; echo "escaped: hostname=$(${escapeCommand})"'`,
  );
  console.log(monitor.result.stdout.trimEnd());
  say("nsguard getevents -o compact");
  console.log(monitor.compact || "(no events)");
  say("nsguard getevents -o json (first event, pretty-printed)");
  console.log(monitor.json[0] ? JSON.stringify(JSON.parse(monitor.json[0]), null, 2) : "(no events)");
  if (monitor.json.length < 4) failed = true;

  say(
    "Enforcement: examples/deny-namespace-access.yaml (matchPIDs NotIn 0,1 isNamespacePID followForks + Sigkill)",
  );
  const deny = await scenario(
    "deny-namespace-access.yaml",
    `bash -c '${escapeCommand}; echo "nsenter exit status: $? (137 = killed by SIGKILL at its first setns)"'`,
  );
  console.log(deny.result.stdout.trimEnd());
  say("nsguard getevents -o compact");
  console.log(deny.compact || "(no events)");
  const killed = deny.json.map((line) => JSON.parse(line).process_kprobe?.action);
  console.log(`actions: ${killed.join(", ")}`);
  if (!killed.includes("KPROBE_ACTION_SIGKILL")) failed = true;
} catch (err) {
  console.error(`demo failed: ${err.message}`);
  failed = true;
} finally {
  anchor.stop();
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  rmSync(work, { recursive: true, force: true });
}
say(failed ? "demo FAILED" : "demo done: everything it created has been removed");
process.exit(failed ? 1 : 0);
