import { Readable, Writable } from "node:stream";
import type { CliIo } from "../io.js";

export interface CapturedIo extends CliIo {
  out(): string;
  err(): string;
}

export interface CaptureOptions {
  env?: Record<string, string | undefined>;
  /** Text piped into stdin; unset: stdin is a terminal, as when a user types the command. */
  stdin?: string;
  stdoutIsTerminal?: boolean;
  /** The agent info file to consult; default a path that never exists, so a real agent's file on this machine is not picked up. */
  infoFile?: string;
  /** `nsguard agent`'s default config file and dir; default paths that never exist, so this machine's /etc/nsguard is not read. */
  agentConfigDefaults?: { file: string; dir: string };
}

/** A CliIo whose stdout/stderr are collected in memory. */
export function captureIo(options: CaptureOptions = {}): CapturedIo {
  const sink = () => {
    const chunks: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer | string, _enc, cb) {
        chunks.push(chunk.toString());
        cb();
      },
    });
    return { stream, text: () => chunks.join("") };
  };
  const stdout = sink();
  const stderr = sink();
  return {
    stdout: stdout.stream,
    stderr: stderr.stream,
    env: options.env ?? {},
    stdin: () => Readable.from(options.stdin === undefined ? [] : [options.stdin]),
    stdinIsCharDevice: () => options.stdin === undefined,
    stdoutIsTerminal: options.stdoutIsTerminal ?? false,
    infoFile: options.infoFile ?? "/nonexistent/nsguard-cli-test/nsguard-info.json",
    agentConfigDefaults: options.agentConfigDefaults ?? {
      file: "/nonexistent/nsguard-cli-test/nsguard.yaml",
      dir: "/nonexistent/nsguard-cli-test/nsguard.conf.d",
    },
    out: stdout.text,
    err: stderr.text,
  };
}
