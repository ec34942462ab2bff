import { readFile } from "node:fs/promises";
import { toJson } from "@bufbuild/protobuf";
import { isPolicyError, loadTracingPolicyFile } from "@nsguard/policy";
import { ListTracingPoliciesResponseSchema, TracingPolicyMode } from "@nsguard/sdk";
import type { Command } from "commander";
import { Option } from "commander";
import type { ConnectionFlags } from "../connection.js";
import { addConnectionOptions, connect } from "../connection.js";
import type { CliIo } from "../io.js";
import { writeLine } from "../io.js";
import { formatPolicyTable } from "../policy-table.js";
import type { PolicyModeName } from "../policy-yaml-mode.js";
import { setPolicyYamlMode } from "../policy-yaml-mode.js";
import { CliUsageError, describeError } from "../rpc-error.js";
import { resolvePolicyServerAddress } from "../server-address.js";

interface CommonFlags extends ConnectionFlags {
  domain?: string;
}

export function registerTracingPolicy(
  program: Command,
  io: CliIo,
  setExitCode: (code: number) => void,
): void {
  const tp = program.command("tracingpolicy").alias("tp").description("Manage tracing policies");
  const common = (cmd: Command) =>
    addConnectionOptions(cmd.option("--domain <domain>", 'policy domain (the agent treats "" as "grpc")'));

  // Runs one RPC; any failure becomes a single stderr line and exit code 1.
  const run = (name: string, flags: CommonFlags, body: () => Promise<void>) =>
    body().then(
      () => setExitCode(0),
      async (err: unknown) => {
        await writeLine(
          io.stderr,
          `nsguard tracingpolicy ${name}: ${describeError(err, resolvePolicyServerAddress(flags.serverAddress, io))}`,
        );
        setExitCode(1);
      },
    );
  const client = (flags: CommonFlags) => connect(flags, io, { control: true }).client;
  const opts = (flags: CommonFlags) => ({ timeoutMs: flags.timeout });

  common(tp.command("add <file>").description("Add a tracing policy from a YAML file"))
    .addOption(
      new Option("-m, --mode <mode>", "Tracing policy mode (enforce|monitor)").choices([
        "enforce",
        "monitor",
      ]),
    )
    .action((file: string, flags: CommonFlags & { mode?: PolicyModeName }) =>
      run("add", flags, async () => {
        const text = await readFile(file, "utf8").catch((err: NodeJS.ErrnoException) => {
          throw new CliUsageError(`cannot read ${JSON.stringify(file)}: ${err.message}`);
        });
        // tetra rewrites spec.options' policy-mode in the YAML it sends; the RPC has no mode.
        const yaml = flags.mode === undefined ? text : setPolicyYamlMode(text, flags.mode);
        await client(flags).addTracingPolicy({ yaml, domain: flags.domain ?? "" }, opts(flags));
        await writeLine(io.stdout, `tracing policy ${JSON.stringify(file)} added`);
      }),
    );

  // No agent and no kernel: the agent's own reader and compiler (@nsguard/policy, pure
  // TypeScript), for this machine's architecture, so every message is the one a load would give.
  // What only the kernel decides (a kernel function needs kprobes) shows at load.
  tp.command("lint <files...>")
    .description("Check policy files offline, with the messages the agent would give (no agent needed)")
    .action(async (files: string[]) => {
      let failed = 0;
      for (const file of files) {
        try {
          const { compiled } = await loadTracingPolicyFile(file);
          const hooks = compiled.hooks.length;
          await writeLine(
            io.stdout,
            `${file}: ok (${compiled.name}: ${hooks} hook${hooks === 1 ? "" : "s"})`,
          );
        } catch (err) {
          if (!isPolicyError(err)) throw err;
          failed++;
          await writeLine(io.stderr, err.message);
        }
      }
      setExitCode(failed === 0 ? 0 : 1);
    });

  common(tp.command("delete <name>").description("Delete a tracing policy"))
    .option("-n, --namespace <namespace>", "namespace of a namespaced policy", "")
    .action((name: string, flags: CommonFlags & { namespace: string }) =>
      run("delete", flags, async () => {
        await client(flags).deleteTracingPolicy(
          { name, namespace: flags.namespace, domain: flags.domain ?? "" },
          opts(flags),
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
            opts(flags),
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
          throw new CliUsageError(`mode must be "enforce" or "monitor", got ${JSON.stringify(mode)}`);
        await client(flags).configureTracingPolicy(
          { name, namespace: flags.namespace, mode: value, domain: flags.domain ?? "" },
          opts(flags),
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
        const res = await client(flags).listTracingPolicies({ domain: flags.domain ?? "" }, opts(flags));
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
