import type { AgentOptions } from "@nsguard/agent";
import type { Command } from "commander";
import { Option } from "commander";
import type { CliIo } from "../io.js";
import { writeLine } from "../io.js";
import { collectRepeated, parseCount } from "../list-option.js";

interface AgentModule {
  runAgent(options: AgentOptions): Promise<number>;
}

// Kept in a variable so TypeScript does not resolve it at build time: the client commands
// must never load the agent (and through it the native addon), and the CLI must build even
// before the agent exports runAgent.
const agentModule = "@nsguard/agent";

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
          ...(flags.nodeName !== undefined ? { nodeName: flags.nodeName } : {}),
          ...(flags.eventQueueBytes !== undefined ? { eventQueueBytes: flags.eventQueueBytes } : {}),
          ...(flags.exportFilename !== undefined ? { exportFilename: flags.exportFilename } : {}),
          ...(flags.podInfoFile !== undefined ? { podInfoFile: flags.podInfoFile } : {}),
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
