// `npm run demo`: the agent with the seed's policy, the seed's container escape on a real podman
// container, the events shown.
//
// 1. starts a private podman (packages/agent's test harness: runc, scratch storage, its own
//    `podman system service` API socket) and creates pod `xwing` with the seed's labels, holding
//    a privileged `--pid host` container `spaceship` and an ordinary container `xwing-app`;
// 2. starts `nsguard agent --tracing-policy examples/namespace-access.yaml` (the seed's policy,
//    unchanged) with `--podman-socket`, so the pod block of each event comes from podman's REST
//    API; and two `nsguard getevents` clients (compact and JSON) against its gRPC port;
// 3. runs `podman exec spaceship nsenter -t <host anchor> -m -u -n -i hostname`, the escape of
//    the seed (a host-side anchor replaces pid 1, whose /proc/1/ns/* this platform hides even from
//    root), and prints the events: each namespace kind the kernel moved from the container's to
//    the host's (`→ host`), next to runc's own setns calls of `podman exec` (`host → container`);
// 4. does it again under the seed's deny policy (Sigkill): `podman exec xwing-app nsenter -t 1 -m
//    true` — xwing-app has its own pid namespace, so nsenter's pid there is neither 0 nor 1 — is
//    killed at its setns;
// 5. removes everything it created (containers, pod, podman service and storage, cgroup dirs,
//    anchor, agent, clients), also on failure or Ctrl-C.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PodmanHarness } from "../packages/agent/dist/e2e/runtimes/podman.js";
import { startHostAnchor } from "../packages/agent/dist/index.js";

const root = new URL("..", import.meta.url).pathname;
const nsguard = join(root, "packages/cli/bin/nsguard.js");
const address = "127.0.0.1:54321"; // the agent's default port
const POD_LABELS = { "app.kubernetes.io/name": "xwing", class: "xwing", org: "alliance" }; // the seed's
// `podman run --pod` does not copy the pod's labels; the namespace is a label podman has no notion of.
const CONTAINER_LABELS = { "io.kubernetes.pod.namespace": "default" };
// The warm-up's setns runs as /bin/busybox, the demo's nsenter as /bin/nsenter: that tells them apart.
const WARM_UP = ["busybox", "nsenter", "--net=/proc/self/ns/net", "true"];
const NSENTER = "/bin/nsenter";

if (process.getuid() !== 0) {
  console.error("npm run demo needs root (it loads BPF programs and runs containers)");
  process.exit(1);
}

const started = performance.now();
const work = mkdtempSync(join(tmpdir(), "nsguard-demo-"));
const children = [];
const say = (text) => console.log(`\n\x1b[1m== ${text}\x1b[0m`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function run(args) {
  // The agent with its heap flag (see bin/nsguard.js), so that it is our child and not a grandchild.
  const heap = args[0] === "agent" ? ["--max-semi-space-size=4"] : [];
  const child = spawn(process.execPath, [...heap, nsguard, ...args], { stdio: ["ignore", "pipe", "pipe"] });
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

/** Runs `action` under `policyFile`; returns its result and what the two clients printed. */
async function scenario(podman, policyFile, container, action) {
  const agent = run([
    "agent",
    "--tracing-policy",
    join(root, "examples", policyFile),
    "--server-address",
    address,
    "--server-socket",
    join(work, "nsguard.sock"),
    "--podman-socket",
    podman.socketPath,
    "--log-level",
    "warn",
  ]);
  await waitForAgent(agent);
  // JSON: only our pod's events. Compact also shows host processes, for runc's setns calls on
  // `podman exec` (runc runs on the host); the demo picks its lines out of them.
  const types = ["--event-types", "PROCESS_KPROBE,PROCESS_EXIT", "--server-address", address];
  const compact = run(["getevents", "-o", "compact", ...types]);
  const json = run(["getevents", "-o", "json", ...types, "--namespace", "default"]);
  // Warm-up: a harmless setns (into the container's own netns) until both clients show it, so we
  // know their streams are live before the real thing; then forget what they printed.
  for (let i = 0; i < 50 && !(compact.out && json.out); i++) {
    await podman.exec(container, WARM_UP);
    await sleep(100);
  }
  compact.out = "";
  json.out = "";
  const result = await action();
  await sleep(500); // events delivered (the reader polls the ring buffer every 10 ms)
  for (const c of [compact, json]) c.kill("SIGINT");
  await Promise.all([compact.done, json.done]);
  agent.kill("SIGTERM");
  const agentCode = await agent.done;
  if (agentCode !== 0) throw new Error(`agent exited with ${agentCode}:\n${agent.err}`);
  const lines = (text) => text.split("\n").filter(Boolean);
  return {
    result,
    // A warm-up still in flight may land after the reset: drop its lines.
    compact: lines(compact.out).filter((line) => !line.includes("/bin/busybox")),
    json: lines(json.out)
      .map((line) => JSON.parse(line))
      .filter((e) => !JSON.stringify(e).includes('"/bin/busybox"')),
  };
}

const binaryOf = (event) => (event.process_kprobe ?? event.process_exit)?.process?.binary;

let anchor;
let starting; // PodmanHarness.start(), so that a Ctrl-C during it still cleans up
let cleaning;
function cleanup() {
  cleaning ??= (async () => {
    // SIGTERM first: the agent detaches its BPF programs on it.
    const running = children.filter((child) => child.exitCode === null);
    for (const child of running) child.kill("SIGTERM");
    await Promise.race([Promise.all(running.map((child) => child.done)), sleep(3000)]);
    for (const child of running) if (child.exitCode === null) child.kill("SIGKILL");
    anchor?.stop();
    const podman = await starting?.catch(() => undefined); // a failed start cleaned up itself
    await podman?.cleanup();
    rmSync(work, { recursive: true, force: true });
  })();
  return cleaning;
}
let interrupted = false;
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, async () => {
    interrupted = true;
    console.error(`\n${signal}: cleaning up`);
    await cleanup();
    process.exit(130);
  });
}

let failed = false;
try {
  anchor = startHostAnchor();
  say(`Host anchor: pid ${anchor.pid} (a host-side process whose namespaces the escape enters)`);
  starting = PodmanHarness.start();
  const podman = await starting;
  await podman.createPod({ name: "xwing", labels: POD_LABELS });
  const spaceship = await podman.run({
    name: "spaceship",
    pod: "xwing",
    labels: CONTAINER_LABELS,
    privileged: true,
    pidHost: true,
  });
  const app = await podman.run({ name: "xwing-app", pod: "xwing", labels: CONTAINER_LABELS });
  say("podman pod xwing (labels from the seed), pod metadata served by podman's REST API");
  console.log(`spaceship  ${spaceship.id.slice(0, 12)}  --privileged --pid host  host pid ${spaceship.pid}`);
  console.log(`xwing-app  ${app.id.slice(0, 12)}  ordinary (own pid namespace)  host pid ${app.pid}`);
  console.log(`API socket ${podman.socketPath}`);

  say("Monitoring: examples/namespace-access.yaml (the seed's policy, unchanged)");
  console.log(readFileSync(join(root, "examples/namespace-access.yaml"), "utf8").trimEnd());
  const escapeArgv = ["nsenter", "-t", String(anchor.pid), "-m", "-u", "-n", "-i", "hostname"];
  say(`podman exec spaceship ${escapeArgv.join(" ")}`);
  const monitor = await scenario(podman, "namespace-access.yaml", "spaceship", async () => {
    const inside = await podman.exec("spaceship", ["hostname"]);
    const escaped = await podman.exec("spaceship", escapeArgv);
    console.log(`inside:  hostname=${inside.stdout.trim()}`);
    console.log(`escaped: hostname=${escaped.stdout.trim() || escaped.stderr.trim()}`);
    return escaped;
  });
  say("nsguard getevents -o compact (the escape: each kind the kernel moved into the host's)");
  console.log(
    monitor.compact.filter((line) => line.includes(`default/xwing ${NSENTER}`)).join("\n") || "(no events)",
  );
  // runc's exec runs from a sealed memfd copy of itself, hence /dev/fd/N.
  const runtime = monitor.compact.filter((line) => /setns +\S+ \/dev\/fd\/\d+ .*host → container/.test(line));
  say(`… and runc joining the container for each podman exec (${runtime.length} setns lines, first 4)`);
  console.log(runtime.slice(0, 4).join("\n") || "(none)");
  say("nsguard getevents -o json (the escape's first setns, pretty-printed)");
  const escapes = monitor.json.filter((e) => e.process_kprobe && binaryOf(e) === NSENTER);
  console.log(escapes[0] ? JSON.stringify(escapes[0], null, 2) : "(no events)");
  if (monitor.result.code !== 0 || escapes.length < 4) failed = true;

  say(
    "Enforcement: examples/deny-namespace-access.yaml (matchPIDs NotIn 0,1 isNamespacePID followForks + Sigkill)",
  );
  // Host pid namespace processes never match isNamespacePID (as in Tetragon): runc and spaceship
  // (--pid host) are out of its reach, xwing-app's nsenter (pid > 1 in its own pid namespace) is not.
  say("podman exec xwing-app nsenter -t 1 -m true (xwing-app has its own pid namespace)");
  const deny = await scenario(podman, "deny-namespace-access.yaml", "xwing-app", () =>
    podman.exec("xwing-app", ["nsenter", "-t", "1", "-m", "true"]),
  );
  console.log(`exit status: ${deny.result.code} (137 = killed by SIGKILL at its setns)`);
  say("nsguard getevents -o compact");
  console.log(
    deny.compact.filter((line) => line.includes(`default/xwing ${NSENTER}`)).join("\n") || "(no events)",
  );
  const kprobe = deny.json.find((e) => e.process_kprobe && binaryOf(e) === NSENTER)?.process_kprobe;
  const exit = deny.json.find((e) => e.process_exit && binaryOf(e) === NSENTER)?.process_exit;
  console.log("(killed inside the syscall: the kernel left its mnt namespace unchanged)");
  console.log(`process_kprobe action: ${kprobe?.action ?? "(none)"}`);
  console.log(`process_exit signal:   ${exit?.signal ?? "(none)"}`);
  if (deny.result.code !== 137 || kprobe?.action !== "KPROBE_ACTION_SIGKILL" || exit?.signal !== "SIGKILL") {
    failed = true;
  }
} catch (err) {
  if (!interrupted) console.error(`demo failed: ${err.message}`);
  failed = true;
} finally {
  await cleanup();
}
const seconds = ((performance.now() - started) / 1000).toFixed(1);
say(failed ? "demo FAILED" : `demo done in ${seconds} s: everything it created has been removed`);
process.exit(failed ? 1 : 0);
