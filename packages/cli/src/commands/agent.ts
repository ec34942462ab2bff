import { existsSync } from "node:fs";
import type { AgentOptions } from "@nsguard/agent";
import type { Command } from "commander";
import { Option } from "commander";
import type { CliIo } from "../io.js";
import { DEFAULT_INFO_FILE, writeLine } from "../io.js";
import { collectRepeated, parseCount } from "../list-option.js";

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
  program
    .command("agent")
    .description("Run the nsguard agent (needs root)")
    .option("--tracing-policy <file>", "load this policy at start (repeatable)", collectRepeated, [])
    .option("--server-address <address>", 'gRPC listen address ("" disables)', "localhost:54321")
    .option("--server-socket <path>", 'gRPC unix socket ("" disables)', "/var/run/nsguard/nsguard.sock")
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
    .option("--export-filename <file>", "write every event as a JSON line to this file")
    .option("--metrics-server <address>", 'Prometheus /metrics listen address, e.g. ":2112" (default: none)')
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
    .action(
      async (flags: {
        tracingPolicy: string[];
        serverAddress: string;
        serverSocket: string;
        nodeName?: string;
        eventQueueSize: number;
        eventQueueBytes?: number;
        exportFilename?: string;
        podInfoFile?: string;
        podmanSocket?: string;
        criEndpoint?: string;
        enableK8sApi?: boolean;
        k8sKubeconfigPath?: string;
        metricsServer?: string;
        enableProcessNs: boolean;
        enableProcessCred: boolean;
        logLevel: string;
      }) => {
        const options: AgentOptions = {
          tracingPolicies: flags.tracingPolicy,
          serverAddress: flags.serverAddress,
          serverSocket: flags.serverSocket,
          eventQueueSize: flags.eventQueueSize,
          logLevel: flags.logLevel,
          enableProcessNs: flags.enableProcessNs,
          enableProcessCred: flags.enableProcessCred,
          // Client commands find the agent through it (server-address.ts).
          infoFile: DEFAULT_INFO_FILE,
          ...(flags.nodeName !== undefined ? { nodeName: flags.nodeName } : {}),
          ...(flags.eventQueueBytes !== undefined ? { eventQueueBytes: flags.eventQueueBytes } : {}),
          ...(flags.exportFilename !== undefined ? { exportFilename: flags.exportFilename } : {}),
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
        };
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
