import type { Command } from "commander";
import { cliVersion } from "../cli-version.js";
import type { ConnectionFlags } from "../connection.js";
import { addConnectionOptions, connect } from "../connection.js";
import type { CliIo } from "../io.js";
import { writeLine } from "../io.js";
import { describeError } from "../rpc-error.js";
import { resolveServerAddress } from "../server-address.js";

export function registerVersion(program: Command, io: CliIo, setExitCode: (code: number) => void): void {
  addConnectionOptions(
    program.command("version").description("Print the CLI's and the agent's versions"),
  ).action(async (flags: ConnectionFlags) => {
    // The CLI's own version is known even when the agent is down, so it is printed first.
    await writeLine(io.stdout, `cli version: ${cliVersion()}`);
    try {
      const { client, unary } = connect(flags, io);
      const res = await client.getVersion({}, unary);
      await writeLine(io.stdout, `server version: ${res.version}`);
      setExitCode(0);
    } catch (err) {
      const address = resolveServerAddress(flags.serverAddress, io);
      await writeLine(io.stderr, `nsguard version: ${describeError(err, address)}`);
      setExitCode(1);
    }
  });
}
