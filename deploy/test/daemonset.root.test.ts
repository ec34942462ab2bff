import { execFile, execFileSync } from "node:child_process";
import { existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import {
  createNsguardClient,
  EventType,
  type GetEventsResponse,
  NamespaceDirection,
  type ProcessKprobe,
} from "@nsguard/sdk";
import { afterAll, beforeAll, describe, expect } from "vitest";
import { isRoot, rootIt, waitFor } from "../../packages/agent/src/e2e/root-tier.js";
import { PodmanHarness, type RunningContainer } from "../../packages/agent/src/e2e/runtimes/podman.js";
import { startHostAnchor } from "../../packages/agent/src/sim/simulated-container.js";
import {
  agentConfig,
  agentContainer,
  agentFlags,
  DEPLOY_DIR,
  daemonSet,
  type Manifest,
  portOf,
  resource,
} from "./manifests.js";

/**
 * The DaemonSet's pod, run by podman: the agent image built by deploy/build-image.sh, started with
 * the privileges, host pid namespace, mounts, env, args and limits read from
 * deploy/kubernetes/daemonset.yaml (podmanRunArgs), catches a container's escape into a host
 * process's namespaces and reports it over its unix socket and its export file.
 *
 * What differs from a node, and why:
 *  - hostPath volumes of node state (/var/run/nsguard, /var/log/nsguard, the runtimes' socket
 *    dirs) are scratch directories, so concurrent tests and the machine stay untouched; the
 *    kernel's (/sys/fs/bpf, /sys/kernel/tracing) are the host's own, as on a node;
 *  - the podman socket dir holds a hard link to this test's private podman API socket, so the
 *    agent finds it at its default path, as on a podman node;
 *  - ConfigMaps are written to directories; enable-k8s-api is "false" (no API server can run
 *    here; the informer is tested against a faithful local server in packages/agent);
 *  - the pod network is podman's `--network none` (a private namespace with loopback only).
 */

const ds = daemonSet();
const container = agentContainer(ds);
const NODE_NAME = `deploy-e2e-${process.pid}`;

/** The config ConfigMap as files: no API server can run here. */
function configFiles(): Record<string, string> {
  const files = { ...agentConfig(), "enable-k8s-api": "false" };
  return files;
}

/** A Kubernetes quantity as podman's --memory takes it (binary suffixes). */
function podmanMemory(quantity: string): string {
  const m = /^(\d+)(Ki|Mi|Gi)$/.exec(quantity);
  if (!m) throw new Error(`unsupported memory quantity ${quantity}`);
  return `${m[1]}${{ Ki: "k", Mi: "m", Gi: "g" }[m[2] as "Ki" | "Mi" | "Gi"]}`;
}

/**
 * `podman run` options for the DaemonSet's pod spec. Every field of the pod and container that
 * decides what the agent can see and do is translated, and an unknown one fails the test (so a
 * manifest change cannot silently escape it).
 */
function podmanRunArgs(
  manifest: Manifest,
  hostPaths: Record<string, string>,
  configMaps: Record<string, string>,
): string[] {
  const pod = manifest.spec.template.spec;
  const c = agentContainer(manifest);
  const args: string[] = [];
  // The pod network: its own namespace (the harness runs it with --network none).
  expect(pod.hostNetwork ?? false).toBe(false);
  if (pod.hostPID) args.push("--pid", "host");
  expect(Object.keys(c.securityContext)).toEqual(["privileged"]);
  if (c.securityContext.privileged) args.push("--privileged");
  for (const env of c.env ?? []) {
    if (env.valueFrom?.fieldRef?.fieldPath === "spec.nodeName") args.push("-e", `${env.name}=${NODE_NAME}`);
    else if (typeof env.value === "string") args.push("-e", `${env.name}=${env.value}`);
    else throw new Error(`env ${env.name}: cannot translate ${JSON.stringify(env)}`);
  }
  const volumes = new Map<string, Manifest>(pod.volumes.map((v: Manifest) => [v.name, v]));
  for (const mount of c.volumeMounts) {
    const volume = volumes.get(mount.name);
    let source: string | undefined;
    if (volume?.hostPath) {
      source = hostPaths[volume.hostPath.path] ?? volume.hostPath.path;
      if (volume.hostPath.type === "DirectoryOrCreate") mkdirSync(source, { recursive: true });
      expect({ volume: mount.name, exists: existsSync(source) }).toEqual({
        volume: mount.name,
        exists: true,
      });
    } else if (volume?.configMap) {
      source = configMaps[volume.configMap.name];
    }
    if (!source) throw new Error(`volume ${mount.name}: cannot translate ${JSON.stringify(volume)}`);
    args.push("-v", `${source}:${mount.mountPath}${mount.readOnly ? ":ro" : ""}`);
  }
  if (c.resources?.limits?.memory) args.push("--memory", podmanMemory(c.resources.limits.memory));
  if (c.resources?.limits?.cpu) args.push("--cpus", String(c.resources.limits.cpu));
  return args;
}

function run(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

describe.runIf(isRoot || process.env.CI)("the DaemonSet's pod under podman, from the built image", () => {
  let podman: PodmanHarness;
  let anchor: ReturnType<typeof startHostAnchor>;
  let scratch: string;
  let agent: RunningContainer;
  let esc: RunningContainer;
  let flags: Set<string>;
  const hostPaths: Record<string, string> = {};

  beforeAll(async () => {
    anchor = startHostAnchor();
    scratch = mkdtempSync(join(tmpdir(), "nsguard-deploy-"));
    podman = await PodmanHarness.start();
    // Reused when its inputs are unchanged (deploy/.build), built otherwise (a clean clone).
    const built = await run("bash", [join(DEPLOY_DIR, "build-image.sh"), "--archive-only"]);
    if (built.code !== 0) throw new Error(`build-image.sh failed: ${built.stderr}`);
    const archive = built.stdout.trim().split("\n").at(-1) as string;
    await podman.podman(["load", "-q", "-i", archive]);
    const hashTag = `localhost/nsguard:${/nsguard-image-([0-9a-f]+)\.tar$/.exec(basename(archive))?.[1]}`;
    // The manifest's own image reference, as a node's runtime would have it after a load.
    await podman.podman(["tag", hashTag, container.image]);

    // What `podman run` of the agent image says about flags (the image's CLI, not the checkout's).
    const help = await podman.podman([
      "run",
      "--rm",
      "--network",
      "none",
      container.image,
      "agent",
      "--help",
    ]);
    flags = agentFlags(help);
    // The image's agent knows every flag the DaemonSet passes.
    for (const arg of container.args as string[]) {
      if (arg.startsWith("--") && !flags.has(arg.split("=")[0] as string)) {
        throw new Error(`the image's nsguard agent has no flag ${arg}`);
      }
    }

    for (const path of ["/var/run/nsguard", "/var/log/nsguard", "/run/containerd", "/run/podman"]) {
      hostPaths[path] = join(scratch, "host", path);
      mkdirSync(hostPaths[path] as string, { recursive: true });
    }
    linkSync(podman.socketPath, join(hostPaths["/run/podman"] as string, "podman.sock"));
    const configMaps: Record<string, string> = {};
    for (const [name, data] of [
      ["nsguard-config", configFiles()],
      ["nsguard-policies", resource("ConfigMap", "nsguard-policies").data],
    ] as const) {
      const dir = join(scratch, "configmaps", name);
      mkdirSync(dir, { recursive: true });
      for (const [file, text] of Object.entries(data as Record<string, string>))
        writeFileSync(join(dir, file), text);
      configMaps[name] = dir;
    }
    agent = await podman.run({
      name: `nsguard-agent-${podman.runTag}`,
      image: container.image,
      runArgs: podmanRunArgs(ds, hostPaths, configMaps),
      command: container.args,
    });
    esc = await podman.run({ name: `nsguard-esc-${podman.runTag}`, privileged: true, pidHost: true });
  }, 240_000);

  afterAll(async () => {
    // SIGTERM first: the agent detaches its BPF programs.
    if (agent) await podman.podman(["stop", "-t", "20", agent.name]).catch(() => undefined);
    anchor?.stop();
    await podman?.cleanup();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }, 90_000);

  async function agentLogs(): Promise<string> {
    return (await podman.podman(["logs", agent.name]).catch((e: Error) => e.message)).slice(-4000);
  }

  rootIt(
    "an nsenter into a host process's namespaces is reported over the unix socket and in the export file",
    async () => {
      const socket = join(
        hostPaths["/var/run/nsguard"] as string,
        basename(agentConfig()["server-socket"] as string),
      );
      const infoFile = join(hostPaths["/var/run/nsguard"] as string, "nsguard-info.json");
      await waitFor(
        () => existsSync(socket) && existsSync(infoFile),
        60_000,
        "the agent's unix socket",
      ).catch(async (err) => {
        throw new Error(`${err.message}\n${await agentLogs()}`);
      });
      const client = createNsguardClient(`unix://${socket}`);
      const info = JSON.parse(readFileSync(infoFile, "utf8"));
      expect(info.server_address ?? info.serverAddress).toBe(`unix://${agentConfig()["server-socket"]}`);

      const abort = new AbortController();
      const events: GetEventsResponse[] = [];
      const allowList = [{ eventSet: [EventType.PROCESS_KPROBE], policyNames: ["namespace-access"] }];
      const stream = (async () => {
        for await (const ev of client.getEvents({ allowList }, { signal: abort.signal })) events.push(ev);
      })().catch(() => undefined);
      const fromEsc = (): ProcessKprobe[] =>
        events
          .map((ev) => (ev.event.case === "processKprobe" ? ev.event.value : undefined))
          .filter(
            (k): k is ProcessKprobe =>
              k?.process?.docker === esc.id.slice(0, 31) && k.process.binary.endsWith("/nsenter"),
          );
      // The stream's registration cannot be observed from outside the container: escape again
      // until the events arrive (each run makes the same four calls).
      const deadline = Date.now() + 60_000;
      while (fromEsc().length < 4) {
        if (Date.now() > deadline)
          throw new Error(`no escape events over the unix socket\n${await agentLogs()}`);
        const result = await podman.exec(esc.name, [
          "nsenter",
          "-t",
          String(anchor.pid),
          "-m",
          "-u",
          "-n",
          "-i",
          "true",
        ]);
        expect(result).toMatchObject({ code: 0, stderr: "" });
        await new Promise((r) => setTimeout(r, 1000));
      }
      abort.abort();
      await stream;

      const kprobes = fromEsc();
      const kinds = new Set(kprobes.map((k) => k.args[1]?.arg.value));
      expect(kinds).toEqual(new Set([0x20000, 0x4000000, 0x8000000, 0x40000000])); // mnt uts ipc net
      for (const k of kprobes) {
        expect(k.namespaceChanges?.escape).toBe(true);
        expect(k.namespaceChanges?.changes.map((c) => c.direction)).toEqual([
          NamespaceDirection.CONTAINER_TO_HOST,
        ]);
        // Pod metadata from the node's podman, found at the default socket path the DaemonSet mounts.
        expect(k.process?.pod?.container?.id).toBe(`podman://${esc.id}`);
        expect(k.process?.pod?.container?.name).toBe(esc.name);
      }
      const withNode = events.filter(
        (ev) => ev.event.case === "processKprobe" && kprobes.includes(ev.event.value),
      );
      for (const ev of withNode) expect(ev.nodeName).toBe(NODE_NAME); // NODE_NAME from the downward API

      // The export file on the node's /var/log/nsguard.
      const exportFile = join(
        hostPaths["/var/log/nsguard"] as string,
        basename(agentConfig()["export-filename"] as string),
      );
      await waitFor(
        () => existsSync(exportFile) && readFileSync(exportFile, "utf8").includes(esc.id.slice(0, 31)),
        10_000,
        "the escape in the export file",
      );
      const exported = readFileSync(exportFile, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line))
        .filter((ev) => ev.process_kprobe?.process?.docker === esc.id.slice(0, 31));
      expect(exported.length).toBeGreaterThanOrEqual(4);
      for (const ev of exported) {
        expect(ev.node_name).toBe(NODE_NAME);
        expect(ev.process_kprobe.policy_name).toBe("namespace-access");
        expect(ev.process_kprobe.namespace_changes.escape).toBe(true);
      }
    },
    120_000,
  );

  rootIt("the probes answer on the pod's health port", async () => {
    const port = portOf(agentConfig()["health-server-address"] as string);
    for (const probe of [container.livenessProbe, container.readinessProbe]) {
      const url = `http://127.0.0.1:${port}${probe.httpGet.path}`;
      // As the kubelet does, from outside: into the pod's network namespace, then HTTP.
      await waitFor(
        () => {
          try {
            const argv = [
              "-t",
              String(agent.pid),
              "-n",
              "curl",
              "-s",
              "-o",
              "/dev/null",
              "-w",
              "%{http_code}",
              url,
            ];
            return execFileSync("nsenter", argv, { encoding: "utf8" }) === "200";
          } catch {
            return false; // not listening yet
          }
        },
        30_000,
        `${url} answering 200`,
      );
    }
  });
});
