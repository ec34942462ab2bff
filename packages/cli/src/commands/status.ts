import type { Command } from "commander";
import type { ConnectionFlags } from "../connection.js";
import { addConnectionOptions, connect } from "../connection.js";
import type { CliIo } from "../io.js";
import { writeLine } from "../io.js";
import { describeError } from "../rpc-error.js";
import { resolveServerAddress } from "../server-address.js";

export function registerStatus(program: Command, io: CliIo, setExitCode: (code: number) => void): void {
  addConnectionOptions(program.command("status").description("Print the agent's health")).action(
    async (flags: ConnectionFlags) => {
      try {
        const { client, unary } = connect(flags, io);
        const res = await client.getHealth({}, unary);
        const first = res.healthStatus[0];
        await writeLine(
          io.stdout,
          `Health Status: ${first !== undefined ? first.details : "no status available"}`,
        );
        setExitCode(0);
      } catch (err) {
        const address = resolveServerAddress(flags.serverAddress, io);
        await writeLine(io.stderr, `nsguard status: ${describeError(err, address)}`);
        setExitCode(1);
      }
    },
  );
}
