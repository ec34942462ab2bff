import { Command, CommanderError } from "commander";
import { cliVersion } from "./cli-version.js";
import { registerAgent } from "./commands/agent.js";
import { registerGetEvents } from "./commands/getevents.js";
import { registerStatus } from "./commands/status.js";
import { registerTracingPolicy } from "./commands/tracingpolicy.js";
import { registerVersion } from "./commands/version.js";
import type { CliIo } from "./io.js";
import { processIo, writeLine } from "./io.js";

/**
 * Runs the `nsguard` command line (argv as in process.argv) and resolves with the exit
 * code instead of exiting, so it can be tested in-process and the bin decides how to exit.
 */
export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  let exitCode = 0;
  const setExitCode = (code: number) => {
    exitCode = code;
  };
  const program = new Command("nsguard")
    .description("Namespace-access monitoring and container-escape detection, Tetragon-compatible")
    .version(cliVersion(), "--version", "print the CLI version")
    // Set before any subcommand exists: commander copies these settings into subcommands.
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    });
  registerGetEvents(program, io, setExitCode);
  registerStatus(program, io, setExitCode);
  registerVersion(program, io, setExitCode);
  registerTracingPolicy(program, io, setExitCode);
  registerAgent(program, io, setExitCode);

  try {
    await program.parseAsync([...argv], { from: "node" });
    return exitCode;
  } catch (err) {
    // Usage errors were already printed by commander; help and --version exit 0.
    if (err instanceof CommanderError) return err.exitCode;
    await writeLine(io.stderr, `nsguard: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}
