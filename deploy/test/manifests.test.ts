import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parseTracingPolicy } from "@nsguard/policy";
import { BPFFS, TRACEFS } from "@nsguard/sensor";
import { describe, expect, it } from "vitest";
import {
  agentConfig,
  agentContainer,
  agentFlags,
  agentHelp,
  argValue,
  CLI,
  DEPLOY_DIR,
  daemonSet,
  flagsOf,
  helpDefault,
  KUBERNETES_DIR,
  kubernetesResources,
  portOf,
  REPO_DIR,
  readYamlDocuments,
  resource,
} from "./manifests.js";
import { validateManifest } from "./schema.js";

const help = agentHelp();
const flags = agentFlags(help);

/** A flag the agent has. */
function knownFlag(flag: string): boolean {
  return flags.has(flag);
}

describe("deploy/kubernetes: schemas", () => {
  it("kustomization.yaml lists every manifest of the directory", () => {
    const files = readdirSync(KUBERNETES_DIR).filter(
      (f) => f.endsWith(".yaml") && f !== "kustomization.yaml",
    );
    const [kustomization] = readYamlDocuments(join(KUBERNETES_DIR, "kustomization.yaml"));
    expect([...(kustomization?.resources ?? [])].sort()).toEqual(files.sort());
    for (const { manifest } of kubernetesResources()) {
      if (manifest.kind.startsWith("Cluster") || manifest.kind === "Namespace") continue;
      expect(manifest.metadata.namespace).toBe(kustomization?.namespace);
    }
  });

  it("every manifest is valid against the Kubernetes OpenAPI schema, unknown fields included", () => {
    const resources = kubernetesResources();
    expect(resources.map((r) => r.manifest.kind).sort()).toEqual(
      [
        "ClusterRole",
        "ClusterRoleBinding",
        "ConfigMap",
        "ConfigMap",
        "DaemonSet",
        "Namespace",
        "ServiceAccount",
      ].sort(),
    );
    for (const { file, manifest } of resources)
      expect({ file, errors: validateManifest(manifest) }).toEqual({ file, errors: [] });
  });

  it("the validator catches a wrong type, a missing required field and a misspelt field", () => {
    const ds = daemonSet();
    const container = agentContainer(ds);
    container.image = 3;
    container.volumeMount = container.volumeMounts;
    ds.spec.template.spec.hostPid = true;
    delete ds.spec.selector;
    const errors = validateManifest(ds).join("\n");
    expect(errors).toMatch(/image must be string/);
    expect(errors).toMatch(/selector/);
    expect(errors).toMatch(/unknown field "volumeMount" of V1Container/);
    expect(errors).toMatch(/unknown field "hostPid" of V1PodSpec/);
  });
});

describe("deploy/kubernetes: what the agent needs", () => {
  const ds = daemonSet();
  const pod = ds.spec.template.spec;
  const container = agentContainer(ds);
  const args: string[] = container.args;
  const config = agentConfig();
  const mountPath = (volume: string): string =>
    container.volumeMounts.find((m: { name: string }) => m.name === volume)?.mountPath;

  it("RBAC: exactly get, list and watch on pods, bound to the DaemonSet's service account", () => {
    const role = resource("ClusterRole", "nsguard");
    expect(role.rules).toEqual([{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] }]);
    const binding = resource("ClusterRoleBinding", "nsguard");
    expect(binding.roleRef).toEqual({
      apiGroup: "rbac.authorization.k8s.io",
      kind: "ClusterRole",
      name: "nsguard",
    });
    const account = resource("ServiceAccount", "nsguard");
    expect(binding.subjects).toEqual([
      { kind: "ServiceAccount", name: "nsguard", namespace: account.metadata.namespace },
    ]);
    expect(pod.serviceAccountName).toBe("nsguard");
    // The informer lists and watches pods of this node only: what the role grants, no more.
    const source = readFileSync(
      join(REPO_DIR, "packages/agent/src/container/kubernetes/kubernetes-pod-info.ts"),
      "utf8",
    );
    expect(source).toMatch(/listPodForAllNamespaces\(\{ fieldSelector \}\)/);
    expect(source).toMatch(/spec\.nodeName=\$\{nodeName\}/);
  });

  it("every flag of the DaemonSet and of its config ConfigMap is one `nsguard agent` has", () => {
    expect(args[0]).toBe("agent");
    for (const flag of flagsOf(args)) expect({ flag, known: knownFlag(flag) }).toEqual({ flag, known: true });
    for (const name of Object.keys(config)) {
      expect({ name, known: knownFlag(`--${name}`) }).toEqual({ name, known: true });
    }
    // A flag without a <value> is a switch: "true" or "false" in a config file.
    const switches = new Set([...help.matchAll(/^\s+(--[a-z0-9-]+) {2,}/gm)].map((m) => m[1]));
    expect(switches.has("--enable-k8s-api")).toBe(true);
    for (const [name, value] of Object.entries(config)) {
      if (switches.has(`--${name}`))
        expect({ name, value }).toEqual({ name, value: expect.stringMatching(/^(true|false)$/) });
    }
  });

  it("host pid namespace, privileged, its own network namespace, NODE_NAME from the node", () => {
    expect(pod.hostPID).toBe(true);
    expect(pod.hostNetwork).not.toBe(true);
    expect(container.securityContext).toEqual({ privileged: true });
    expect(container.env).toContainEqual({
      name: "NODE_NAME",
      valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } },
    });
    expect(pod.tolerations).toContainEqual({ operator: "Exists" });
  });

  it("the mounts are where the agent and the CLI look", () => {
    // Every mount has its volume and every volume is mounted.
    const volumes = new Map(pod.volumes.map((v: { name: string }) => [v.name, v]));
    expect(new Set(container.volumeMounts.map((m: { name: string }) => m.name))).toEqual(
      new Set(volumes.keys()),
    );
    const hostPath = (name: string) => (volumes.get(name) as { hostPath?: { path: string } }).hostPath?.path;
    // The kernel's filesystems: the host's own, at the paths the sensor uses.
    expect([hostPath("bpffs"), mountPath("bpffs")]).toEqual([BPFFS, BPFFS]);
    expect([hostPath("tracefs"), mountPath("tracefs")]).toEqual([TRACEFS, TRACEFS]);
    // The unix socket and info file on the host, where `nsguard` on the node finds them.
    const socket = config["server-socket"] as string;
    expect(socket).toBe(helpDefault(help, "--server-socket"));
    expect([hostPath("run"), mountPath("run")]).toEqual([dirname(socket), dirname(socket)]);
    expect(readFileSync(join(REPO_DIR, "packages/cli/src/io.ts"), "utf8")).toContain(
      `DEFAULT_INFO_FILE = "${dirname(socket)}/nsguard-info.json"`,
    );
    // The export file on the host.
    expect(mountPath("export")).toBe(dirname(config["export-filename"] as string));
    expect(hostPath("export")).toBe(mountPath("export"));
    // The runtimes' sockets the agent discovers by default.
    expect(dirname(helpDefault(help, "--cri-endpoint"))).toBe(mountPath("containerd"));
    expect(dirname(helpDefault(help, "--podman-socket"))).toBe(mountPath("podman"));
    expect([hostPath("containerd"), hostPath("podman")]).toEqual([
      mountPath("containerd"),
      mountPath("podman"),
    ]);
    // The ConfigMaps where the flags point.
    expect(mountPath("config")).toBe(argValue(args, "--config-dir"));
    expect(mountPath("policies")).toBe(argValue(args, "--tracing-policy-dir"));
    expect((volumes.get("config") as { configMap: { name: string } }).configMap.name).toBe("nsguard-config");
    expect((volumes.get("policies") as { configMap: { name: string } }).configMap.name).toBe(
      "nsguard-policies",
    );
  });

  it("safe network defaults: gRPC on the unix socket and loopback only; probes and metrics on named ports", () => {
    expect(config["server-address"]).toMatch(/^(localhost|127\.0\.0\.1|\[::1\]):\d+$/);
    const ports = new Map(
      container.ports.map((p: { name: string; containerPort: number }) => [p.name, p.containerPort]),
    );
    expect(ports.get("metrics")).toBe(portOf(config["metrics-server"] as string));
    expect(ports.get("health")).toBe(portOf(config["health-server-address"] as string));
    expect(container.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "health" });
    expect(container.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "health" });
    expect(container.startupProbe.httpGet).toEqual({ path: "/healthz", port: "health" });
    expect(Object.keys(container.resources).sort()).toEqual(["limits", "requests"]);
    expect(container.resources.limits.memory).toBeDefined();
  });

  it("the policies ConfigMap holds valid policies, namespace-access.yaml as in examples/", () => {
    const data = resource("ConfigMap", "nsguard-policies").data as Record<string, string>;
    expect(data["namespace-access.yaml"]).toBe(
      readFileSync(join(REPO_DIR, "examples/namespace-access.yaml"), "utf8"),
    );
    for (const [file, text] of Object.entries(data)) {
      expect(file).toMatch(/\.yaml$/);
      expect(parseTracingPolicy(text, file).metadata.name).toBeTruthy();
    }
  });
});

describe("deploy/systemd/nsguard.service", () => {
  const unitPath = join(DEPLOY_DIR, "systemd/nsguard.service");
  const unit = readFileSync(unitPath, "utf8");
  const execStart = /^ExecStart=(\S+) (.*)$/m.exec(unit);

  it("systemd-analyze verify finds nothing (run against this checkout's CLI)", () => {
    expect(execStart?.[1]).toBe("/usr/local/bin/nsguard");
    // verify checks that ExecStart's binary exists and is executable: point it at the repo's CLI.
    const dir = mkdtempSync(join(tmpdir(), "nsguard-unit-"));
    try {
      const copy = join(dir, "nsguard.service");
      writeFileSync(copy, unit.replace(/^ExecStart=\S+/m, `ExecStart=${CLI}`));
      const result = spawnSync("systemd-analyze", ["verify", copy], { encoding: "utf8" });
      expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: "" });
      // A broken unit is reported (so an empty stderr above means something).
      writeFileSync(copy, unit.replace("Restart=on-failure", "Restart=sometimes"));
      expect(spawnSync("systemd-analyze", ["verify", copy], { encoding: "utf8" }).stderr).toMatch(/restart/i);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("runs the agent with flags it has, restarts on failure, keeps the capabilities BPF needs", () => {
    const args = (execStart?.[2] ?? "").split(/\s+/);
    expect(args[0]).toBe("agent");
    for (const flag of flagsOf(args)) expect({ flag, known: knownFlag(flag) }).toEqual({ flag, known: true });
    expect(argValue(args, "--config-dir")).toMatch(/^\/etc\/nsguard\//);
    expect(argValue(args, "--tracing-policy-dir")).toMatch(/^\/etc\/nsguard\//);
    expect(unit).toMatch(/^Restart=on-failure$/m);
    const caps = /^CapabilityBoundingSet=(.*)$/m.exec(unit)?.[1]?.split(" ") ?? [];
    expect(caps).toEqual(
      expect.arrayContaining(["CAP_BPF", "CAP_PERFMON", "CAP_SYS_ADMIN", "CAP_SYS_PTRACE"]),
    );
    // V8's JIT needs writable+executable pages.
    expect(unit).not.toMatch(/^MemoryDenyWriteExecute=yes/m);
    // The unix socket's directory is the one the CLI reads the info file from.
    expect(unit).toMatch(/^RuntimeDirectory=nsguard$/m);
    expect(execFileSync("readlink", ["-f", "/var/run"], { encoding: "utf8" }).trim()).toBe("/run");
  });
});
