import { readFile } from "node:fs/promises";
import { toJson } from "@bufbuild/protobuf";
import { createNsguardClient, ListTracingPoliciesResponseSchema, TracingPolicyMode } from "@nsguard/sdk";
import type { Command } from "commander";
import { Option } from "commander";
import type { CliIo } from "../io.js";
import { writeLine } from "../io.js";
import { formatPolicyTable } from "../policy-table.js";
import { describeRpcError } from "../rpc-error.js";
import { defaultPolicyServerAddress } from "../server-address.js";
import { UNARY_TIMEOUT_MS } from "../unary-timeout.js";

interface CommonFlags {
  serverAddress: string;
  domain?: string;
}

export function registerTracingPolicy(
  program: Command,
  io: CliIo,
  setExitCode: (code: number) => void,
): void {
  const tp = program.command("tracingpolicy").alias("tp").description("Manage tracing policies");
  const common = (cmd: Command) =>
    cmd
      .option(
        "--server-address <address>",
        "agent address (host:port or unix:///path; default: the agent's unix socket when usable, else localhost:54321)",
        defaultPolicyServerAddress(io),
      )
      .option("--domain <domain>", 'policy domain (the agent treats "" as "grpc")');

  // Runs one RPC; any failure becomes a single stderr line and exit code 1.
  const run = (name: string, flags: CommonFlags, body: () => Promise<void>) =>
    body().then(
      () => setExitCode(0),
      async (err: unknown) => {
        await writeLine(
          io.stderr,
          `nsguard tracingpolicy ${name}: ${describeError(err, flags.serverAddress)}`,
        );
        setExitCode(1);
      },
    );
  const client = (flags: CommonFlags) => createNsguardClient(flags.serverAddress);
  const opts = { timeoutMs: UNARY_TIMEOUT_MS };

  common(tp.command("add <file>").description("Add a tracing policy from a YAML file")).action(
    (file: string, flags: CommonFlags) =>
      run("add", flags, async () => {
        const yaml = await readFile(file, "utf8").catch((err: NodeJS.ErrnoException) => {
          throw new LocalError(`cannot read ${JSON.stringify(file)}: ${err.message}`);
        });
        await client(flags).addTracingPolicy({ yaml, domain: flags.domain ?? "" }, opts);
        await writeLine(io.stdout, `tracing policy ${JSON.stringify(file)} added`);
      }),
  );

  common(tp.command("delete <name>").description("Delete a tracing policy"))
    .option("-n, --namespace <namespace>", "namespace of a namespaced policy", "")
    .action((name: string, flags: CommonFlags & { namespace: string }) =>
      run("delete", flags, async () => {
        await client(flags).deleteTracingPolicy(
          { name, namespace: flags.namespace, domain: flags.domain ?? "" },
          opts,
        );
        await writeLine(io.stdout, `tracing policy ${JSON.stringify(name)} deleted`);
      }),
    );

  for (const [verb, enable] of [
    ["enable", true],
    ["disable", false],
  ] as const) {
    common(
      tp.command(`${verb} <name>`).description(`${verb[0]?.toUpperCase()}${verb.slice(1)} a tracing policy`),
    )
      .option("-n, --namespace <namespace>", "namespace of a namespaced policy", "")
      .action((name: string, flags: CommonFlags & { namespace: string }) =>
        run(verb, flags, async () => {
          await client(flags).configureTracingPolicy(
            { name, namespace: flags.namespace, enable, domain: flags.domain ?? "" },
            opts,
          );
          await writeLine(io.stdout, `tracing policy ${JSON.stringify(name)} ${verb}d`);
        }),
      );
  }

  common(tp.command("set-mode <name> <mode>").description("Switch a policy between enforce and monitor mode"))
    .option("-n, --namespace <namespace>", "namespace of a namespaced policy", "")
    .action((name: string, mode: string, flags: CommonFlags & { namespace: string }) =>
      run("set-mode", flags, async () => {
        const modes: Record<string, TracingPolicyMode> = {
          enforce: TracingPolicyMode.TP_MODE_ENFORCE,
          monitor: TracingPolicyMode.TP_MODE_MONITOR,
        };
        const value = modes[mode];
        if (value === undefined)
          throw new LocalError(`mode must be "enforce" or "monitor", got ${JSON.stringify(mode)}`);
        await client(flags).configureTracingPolicy(
          { name, namespace: flags.namespace, mode: value, domain: flags.domain ?? "" },
          opts,
        );
        await writeLine(
          io.stdout,
          `tracing policy ${JSON.stringify(name)} set to mode ${JSON.stringify(mode)}`,
        );
      }),
    );

  common(tp.command("list").description("List tracing policies"))
    .addOption(new Option("-o, --output <format>", "output format").choices(["text", "json"]).default("text"))
    .action((flags: CommonFlags & { output: "text" | "json" }) =>
      run("list", flags, async () => {
        const res = await client(flags).listTracingPolicies({ domain: flags.domain ?? "" }, opts);
        if (flags.output === "json") {
          await writeLine(
            io.stdout,
            JSON.stringify(toJson(ListTracingPoliciesResponseSchema, res, { useProtoFieldName: true })),
          );
          return;
        }
        for (const line of formatPolicyTable(res.policies)) await writeLine(io.stdout, line);
      }),
    );
}

// A problem found before any RPC, shown as is rather than as an RPC failure.
class LocalError extends Error {}

function describeError(err: unknown, address: string): string {
  return err instanceof LocalError ? err.message : describeRpcError(err, address);
}
