import { createNsguardClient } from "@nsguard/sdk";
import type { Command } from "commander";
import type { CliIo } from "../io.js";
import { writeLine } from "../io.js";
import { describeRpcError } from "../rpc-error.js";
import { defaultServerAddress } from "../server-address.js";
import { UNARY_TIMEOUT_MS } from "../unary-timeout.js";

export function registerStatus(program: Command, io: CliIo, setExitCode: (code: number) => void): void {
  program
    .command("status")
    .description("Print the agent's health")
    .option(
      "--server-address <address>",
      "agent address (host:port or unix:///path)",
      defaultServerAddress(io),
    )
    .action(async (flags: { serverAddress: string }) => {
      try {
        const res = await createNsguardClient(flags.serverAddress).getHealth(
          {},
          { timeoutMs: UNARY_TIMEOUT_MS },
        );
        const first = res.healthStatus[0];
        await writeLine(
          io.stdout,
          `Health Status: ${first !== undefined ? first.details : "no status available"}`,
        );
        setExitCode(0);
      } catch (err) {
        await writeLine(io.stderr, `nsguard status: ${describeRpcError(err, flags.serverAddress)}`);
        setExitCode(1);
      }
    });
}
