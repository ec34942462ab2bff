import { fstatSync } from "node:fs";

/** Where the agent writes its info file and the CLI looks for the agent's address (tetra: /var/run/tetragon/tetragon-info.json). */
export const DEFAULT_INFO_FILE = "/var/run/nsguard/nsguard-info.json";

/** Where `nsguard agent` reads its settings when no --config-file/--config-dir names them (agent-config.ts). */
export const DEFAULT_AGENT_CONFIG = { file: "/etc/nsguard/nsguard.yaml", dir: "/etc/nsguard/nsguard.conf.d" };

/** Where the CLI reads its environment and input and writes its output; tests pass their own. */
export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: Readonly<Record<string, string | undefined>>;
  /** Events piped in: `getevents` reads them instead of connecting, as tetra does. */
  stdin(): NodeJS.ReadableStream;
  /**
   * stdin is a character device (a terminal, or /dev/null): tetra's test, `os.ModeCharDevice`,
   * for "nothing is piped in". Both are functions so that only getevents looks at fd 0: done
   * eagerly for every command, with a pipe on stdin, `nsguard agent`'s later imports failed to
   * resolve (commander, node-fetch) on Node 20 here; the cause is not understood.
   */
  stdinIsCharDevice(): boolean;
  /** stdout is a terminal: `--color auto` colours only then. */
  stdoutIsTerminal: boolean;
  /** The agent's info file (DEFAULT_INFO_FILE outside tests). */
  infoFile: string;
  /** The agent's default configuration file and directory (DEFAULT_AGENT_CONFIG outside tests). */
  agentConfigDefaults: { file: string; dir: string };
}

export function processIo(): CliIo {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    stdin: () => process.stdin,
    stdinIsCharDevice: () => isCharDevice(0),
    stdoutIsTerminal: process.stdout.isTTY === true,
    infoFile: DEFAULT_INFO_FILE,
    agentConfigDefaults: DEFAULT_AGENT_CONFIG,
  };
}

function isCharDevice(fd: number): boolean {
  try {
    return fstatSync(fd).isCharacterDevice();
  } catch {
    // A closed stdin cannot be read from: treat it like a terminal, i.e. connect.
    return true;
  }
}

/**
 * Writes one line and waits for the stream to drain when its buffer is full, so a fast
 * event stream piped into a slow reader does not pile up in memory.
 */
export async function writeLine(stream: NodeJS.WritableStream, line: string): Promise<void> {
  if (stream.write(`${line}\n`)) return;
  await new Promise<void>((resolve) => {
    const done = () => {
      stream.off("drain", done);
      stream.off("close", done);
      stream.off("error", done);
      resolve();
    };
    stream.on("drain", done);
    stream.on("close", done);
    stream.on("error", done);
  });
}
