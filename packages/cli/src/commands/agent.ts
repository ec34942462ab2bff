import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import type { AgentOptions } from "@nsguard/agent";
import type { Command } from "commander";
import { Option } from "commander";
import { addConfigSources, rereadSetting } from "../agent-config.js";
import { parseGoDuration } from "../duration.js";
import type { CliIo } from "../io.js";
import { DEFAULT_INFO_FILE, writeLine } from "../io.js";
import { collectList, collectRepeated, parseCount } from "../list-option.js";

interface AgentModule {
  runAgent(options: AgentOptions): Promise<number>;
}

// Kept in a variable so TypeScript does not resolve it at build time: the client commands
// must never load the agent (and through it the native addon), and the CLI must build even
// before the agent exports runAgent.
const agentModule = "@nsguard/agent";

/** Where a root `podman system service` listens by default (podman-system-service(1)). */
const PODMAN_DEFAULT_SOCKET = "/run/podman/podman.sock";
/** containerd's default socket, which serves its CRI plugin (kubelet's --container-runtime-endpoint). */
const CONTAINERD_DEFAULT_SOCKET = "/run/containerd/containerd.sock";

export function registerAgent(program: Command, io: CliIo, setExitCode: (code: number) => void): void {
  const agent = program
    .command("agent")
    .description("Run the nsguard agent (needs root)")
    .option("--tracing-policy <file>", "load this policy at start (repeatable)", collectRepeated, [])
    .option(
      "--tracing-policy-dir <dir>",
      "load every *.yaml/*.yml policy in this directory and follow its changes (default: none)",
    )
    .option("--server-address <address>", 'gRPC listen address ("" disables)', "localhost:54321")
    .option(
      "--server-socket <path>",
      'gRPC unix socket, root only; the only place a local root may change policies ("" disables)',
      "/var/run/nsguard/nsguard.sock",
    )
    .option(
      "--server-socket-group <group>",
      "group (name or gid) whose members may use the unix socket and change policies, as root may",
    )
    .option(
      "--server-tls-cert-file <file>",
      "PEM server certificate: TLS on the TCP listener (--server-address)",
    )
    .option("--server-tls-key-file <file>", "PEM private key of --server-tls-cert-file")
    .option(
      "--server-tls-client-ca-files <files>",
      "PEM CA bundles verifying client certificates; a verified client may change policies over TCP (repeatable, comma-separated)",
      collectList,
    )
    .option(
      "--server-tls-require-client-cert",
      "refuse TCP clients without a verified certificate, read-only RPCs included (needs --server-tls-client-ca-files)",
      false,
    )
    .option(
      "--info-file <file>",
      "where clients find the agent's addresses (a second agent on one host needs its own)",
      DEFAULT_INFO_FILE,
    )
    .option("--node-name <name>", "node name on events (default: $NODE_NAME, then the hostname)")
    .option(
      "--event-queue-size <n>",
      "events buffered per listener before dropping",
      parseCount("--event-queue-size"),
      10000,
    )
    .option(
      "--event-queue-bytes <n>",
      "encoded event bytes buffered per listener before dropping (default 32 MiB)",
      parseCount("--event-queue-bytes"),
    )
    .option(
      "--export-filename <file>",
      'write every event as a JSON line to this file ("-": standard output)',
    )
    .option(
      "--export-file-max-size-mb <n>",
      "rotate the export file at this size",
      parseCount("--export-file-max-size-mb"),
      10,
    )
    .option(
      "--export-file-rotation-interval <duration>",
      "also rotate the export file this often, e.g. 1h (0: by size only)",
      parseGoDuration("--export-file-rotation-interval"),
      0,
    )
    .option(
      "--export-file-max-backups <n>",
      "rotated export files kept (0 keeps all)",
      parseCount("--export-file-max-backups"),
      5,
    )
    .option("--export-file-compress", "gzip rotated export files", false)
    .option("--export-file-perm <mode>", "octal mode of the export files", parseFileMode, 0o600)
    .option(
      "--export-rate-limit <n>",
      "exported events per minute; over it events are dropped and counted in rate_limit_info (-1: unlimited)",
      parseRateLimit,
      -1,
    )
    .option(
      "--export-allowlist <filters>",
      'export only events matching one of these filters (JSON, one a line, e.g. {"event_set":["PROCESS_KPROBE"]})',
    )
    .option(
      "--export-denylist <filters>",
      "do not export events matching any of these filters (JSON, one a line)",
    )
    .option(
      "--field-filters <filters>",
      'field filters for exported events (JSON, one a line, e.g. {"fields":"process.binary,process.pid","action":"INCLUDE"})',
    )
    .option("--metrics-server <address>", 'Prometheus /metrics listen address, e.g. ":2112" (default: none)')
    .option(
      "--metrics-label-filter <labels>",
      "pod labels on the per-event metrics, comma-separated, from namespace,workload,pod,binary",
      "namespace,workload,pod,binary",
    )
    .option(
      "--metrics-max-label-sets <n>",
      "distinct label sets kept per labelled metric; older ones are folded into _overflow_ series",
      parseCount("--metrics-max-label-sets"),
      4096,
    )
    .option(
      "--health-server-address <address>",
      'HTTP liveness and readiness probes (/healthz, /readyz) listen address ("" disables)',
      "127.0.0.1:6789",
    )
    .option(
      "--pod-info-file <file>",
      "pod metadata by container id (JSON), where no Kubernetes API is reachable",
    )
    .option(
      "--podman-socket <path>",
      `podman API socket to read pod metadata from ("" disables; default: ${PODMAN_DEFAULT_SOCKET} if it exists)`,
    )
    .option(
      "--cri-endpoint <endpoint>",
      `pod metadata from the container runtime's CRI ("" disables; default: ${CONTAINERD_DEFAULT_SOCKET} if it exists)`,
    )
    .option("--enable-k8s-api", "pod metadata from the Kubernetes API (a watch on this node's pods)")
    .option("--k8s-kubeconfig-path <file>", "kubeconfig for --enable-k8s-api (default: in-cluster config)")
    .option("--enable-process-ns", "add namespaces (ns, with is_host) to every process", false)
    .option("--enable-process-cred", "add capabilities (cap) and process_credentials to every process", false)
    .addOption(
      new Option("--log-level <level>", "log level")
        .choices(["trace", "debug", "info", "warn", "error", "fatal"])
        .default("info"),
    )
    .option("--print-config", "print the resolved settings (AgentOptions) as JSON and exit; needs no root")
    .action(
      async (
        flags: {
          tracingPolicy: string[];
          tracingPolicyDir?: string;
          serverAddress: string;
          serverSocket: string;
          serverSocketGroup?: string;
          serverTlsCertFile?: string;
          serverTlsKeyFile?: string;
          serverTlsClientCaFiles?: string[];
          serverTlsRequireClientCert: boolean;
          nodeName?: string;
          infoFile: string;
          eventQueueSize: number;
          eventQueueBytes?: number;
          exportFilename?: string;
          exportFileMaxSizeMb: number;
          exportFileRotationInterval: number;
          exportFileMaxBackups: number;
          exportFileCompress: boolean;
          exportFilePerm: number;
          exportRateLimit: number;
          exportAllowlist?: string;
          exportDenylist?: string;
          fieldFilters?: string;
          podInfoFile?: string;
          podmanSocket?: string;
          criEndpoint?: string;
          enableK8sApi?: boolean;
          k8sKubeconfigPath?: string;
          metricsServer?: string;
          metricsLabelFilter: string;
          metricsMaxLabelSets: number;
          healthServerAddress: string;
          enableProcessNs: boolean;
          enableProcessCred: boolean;
          logLevel: string;
          printConfig?: boolean;
        },
        command: Command,
      ) => {
        let access: Pick<AgentOptions, "serverSocketGroup" | "serverTls">;
        let metricsLabelFilter: NonNullable<AgentOptions["metricsLabelFilter"]>;
        try {
          access = accessOptions(flags);
          metricsLabelFilter = parseMetricsLabelFilter(flags.metricsLabelFilter);
        } catch (err) {
          await writeLine(io.stderr, `nsguard agent: ${(err as Error).message}`);
          setExitCode(1);
          return;
        }
        const options: AgentOptions = {
          tracingPolicies: flags.tracingPolicy,
          serverAddress: flags.serverAddress,
          serverSocket: flags.serverSocket,
          eventQueueSize: flags.eventQueueSize,
          logLevel: flags.logLevel,
          enableProcessNs: flags.enableProcessNs,
          enableProcessCred: flags.enableProcessCred,
          // Client commands find the agent through it (server-address.ts).
          infoFile: flags.infoFile,
          ...(flags.tracingPolicyDir !== undefined ? { tracingPolicyDir: flags.tracingPolicyDir } : {}),
          ...(flags.nodeName !== undefined ? { nodeName: flags.nodeName } : {}),
          ...(flags.eventQueueBytes !== undefined ? { eventQueueBytes: flags.eventQueueBytes } : {}),
          ...(flags.exportFilename !== undefined ? { exportFilename: flags.exportFilename } : {}),
          exportFileMaxSizeMb: flags.exportFileMaxSizeMb,
          exportFileRotationIntervalMs: flags.exportFileRotationInterval,
          exportFileMaxBackups: flags.exportFileMaxBackups,
          exportFileCompress: flags.exportFileCompress,
          exportFilePerm: flags.exportFilePerm,
          exportRateLimit: flags.exportRateLimit,
          ...(flags.exportAllowlist !== undefined ? { exportAllowlist: flags.exportAllowlist } : {}),
          ...(flags.exportDenylist !== undefined ? { exportDenylist: flags.exportDenylist } : {}),
          ...(flags.fieldFilters !== undefined ? { fieldFilters: flags.fieldFilters } : {}),
          ...(flags.podInfoFile !== undefined ? { podInfoFile: flags.podInfoFile } : {}),
          ...podmanSocketOption(flags.podmanSocket),
          ...criEndpointOption(flags.criEndpoint),
          // As in Tetragon, the kubeconfig path alone does nothing without --enable-k8s-api.
          ...(flags.enableK8sApi
            ? {
                kubernetes:
                  flags.k8sKubeconfigPath !== undefined ? { kubeconfig: flags.k8sKubeconfigPath } : {},
              }
            : {}),
          ...(flags.metricsServer !== undefined ? { metricsServer: flags.metricsServer } : {}),
          metricsLabelFilter,
          metricsMaxLabelSets: flags.metricsMaxLabelSets,
          ...(flags.healthServerAddress !== "" ? { healthServerAddress: flags.healthServerAddress } : {}),
          ...access,
          // SIGHUP: the level as the configuration files now say (a flag or variable still wins).
          reloadLogLevel: () => String(rereadSetting(command, "log-level")),
        };
        if (flags.printConfig) {
          // JSON leaves out the function: what prints is the settings.
          await writeLine(io.stdout, JSON.stringify(options, null, 2));
          return;
        }
        const mod = (await import(agentModule)) as Partial<AgentModule>;
        if (typeof mod.runAgent !== "function") {
          await writeLine(
            io.stderr,
            "nsguard agent: this build of @nsguard/agent does not provide runAgent()",
          );
          setExitCode(1);
          return;
        }
        setExitCode(await mod.runAgent(options));
      },
    );
  // After every option: each one, whoever adds it, is also a setting from env and config files.
  addConfigSources(agent, io, io.agentConfigDefaults);
}

/** Tetragon's --metrics-label-filter labels (checked here: the CLI must not load the agent to parse flags). */
const METRICS_LABELS = ["namespace", "workload", "pod", "binary"] as const;

function parseMetricsLabelFilter(value: string): NonNullable<AgentOptions["metricsLabelFilter"]> {
  const labels = value
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  for (const label of labels) {
    if (!(METRICS_LABELS as readonly string[]).includes(label)) {
      throw new Error(
        `--metrics-label-filter: unknown label ${JSON.stringify(label)} (allowed: ${METRICS_LABELS.join(",")})`,
      );
    }
  }
  return labels as NonNullable<AgentOptions["metricsLabelFilter"]>;
}

/** The unix socket group and TCP TLS flags, checked together (Tetragon's --server-tls-* rules). */
function accessOptions(flags: {
  serverSocketGroup?: string;
  serverTlsCertFile?: string;
  serverTlsKeyFile?: string;
  serverTlsClientCaFiles?: string[];
  serverTlsRequireClientCert: boolean;
}): Pick<AgentOptions, "serverSocketGroup" | "serverTls"> {
  const out: Pick<AgentOptions, "serverSocketGroup" | "serverTls"> = {};
  if (flags.serverSocketGroup !== undefined) out.serverSocketGroup = resolveGroup(flags.serverSocketGroup);
  const { serverTlsCertFile: certFile, serverTlsKeyFile: keyFile } = flags;
  const clientCaFiles = flags.serverTlsClientCaFiles ?? [];
  if (certFile === undefined) {
    if (keyFile !== undefined || clientCaFiles.length > 0 || flags.serverTlsRequireClientCert) {
      throw new Error(
        "--server-tls-key-file, --server-tls-client-ca-files and --server-tls-require-client-cert need --server-tls-cert-file",
      );
    }
    return out;
  }
  if (keyFile === undefined) throw new Error("--server-tls-cert-file needs --server-tls-key-file");
  if (flags.serverTlsRequireClientCert && clientCaFiles.length === 0) {
    throw new Error("--server-tls-require-client-cert needs --server-tls-client-ca-files");
  }
  out.serverTls = {
    certFile,
    keyFile,
    ...(clientCaFiles.length > 0 ? { clientCaFiles } : {}),
    ...(flags.serverTlsRequireClientCert ? { requireClientCert: true } : {}),
  };
  return out;
}

/** A group name or gid → gid, through NSS (`getent`), so LDAP/sssd groups resolve as well. */
function resolveGroup(group: string): number {
  if (/^\d+$/.test(group)) return Number(group);
  let entry: string;
  try {
    entry = execFileSync("getent", ["group", group], { encoding: "utf8" });
  } catch {
    throw new Error(`--server-socket-group: no group ${JSON.stringify(group)}`);
  }
  const gid = Number(entry.split(":")[2]);
  if (!Number.isInteger(gid))
    throw new Error(`--server-socket-group: cannot read the gid of ${JSON.stringify(group)}`);
  return gid;
}

/** An explicit --podman-socket wins ("" turns podman off); otherwise podman's default socket if present. */
function podmanSocketOption(flag: string | undefined): Pick<AgentOptions, "podmanSocket"> {
  if (flag !== undefined) return flag === "" ? {} : { podmanSocket: flag };
  return existsSync(PODMAN_DEFAULT_SOCKET) ? { podmanSocket: PODMAN_DEFAULT_SOCKET } : {};
}

/**
 * An explicit --cri-endpoint wins ("" turns the CRI off) and must answer; otherwise containerd's
 * default socket if present, where a containerd without the CRI plugin is skipped with a warning.
 */
function criEndpointOption(
  flag: string | undefined,
): Pick<AgentOptions, "criEndpoint" | "criEndpointDiscovered"> {
  if (flag !== undefined) return flag === "" ? {} : { criEndpoint: flag };
  return existsSync(CONTAINERD_DEFAULT_SOCKET)
    ? { criEndpoint: CONTAINERD_DEFAULT_SOCKET, criEndpointDiscovered: true }
    : {};
}

/** --export-file-perm: an octal mode such as 600 or 0640 (Tetragon's flag takes the same). */
function parseFileMode(value: string): number {
  if (!/^0?[0-7]{3}$/.test(value)) {
    throw new Error(`--export-file-perm must be an octal mode such as 600, got ${JSON.stringify(value)}`);
  }
  return Number.parseInt(value, 8);
}

/** --export-rate-limit: -1 (unlimited) or a non-negative count per minute. */
function parseRateLimit(value: string): number {
  if (!/^(-1|\d+)$/.test(value)) {
    throw new Error(`--export-rate-limit must be -1 or a non-negative integer, got ${JSON.stringify(value)}`);
  }
  return Number(value);
}
