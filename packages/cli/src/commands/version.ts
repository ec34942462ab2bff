import { createNsguardClient } from "@nsguard/sdk";
import type { Command } from "commander";
import { cliVersion } from "../cli-version.js";
import type { CliIo } from "../io.js";
import { writeLine } from "../io.js";
import { describeRpcError } from "../rpc-error.js";
import { defaultServerAddress } from "../server-address.js";
import { UNARY_TIMEOUT_MS } from "../unary-timeout.js";

export function registerVersion(program: Command, io: CliIo, setExitCode: (code: number) => void): void {
  program
    .command("version")
    .description("Print the CLI's and the agent's versions")
    .option(
      "--server-address <address>",
      "agent address (host:port or unix:///path)",
      defaultServerAddress(io),
    )
    .action(async (flags: { serverAddress: string }) => {
      // The CLI's own version is known even when the agent is down, so it is printed first.
      await writeLine(io.stdout, `cli version: ${cliVersion()}`);
      try {
        const res = await createNsguardClient(flags.serverAddress).getVersion(
          {},
          { timeoutMs: UNARY_TIMEOUT_MS },
        );
        await writeLine(io.stdout, `server version: ${res.version}`);
        setExitCode(0);
      } catch (err) {
        await writeLine(io.stderr, `nsguard version: ${describeRpcError(err, flags.serverAddress)}`);
        setExitCode(1);
      }
    });
}
