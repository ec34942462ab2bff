import { Writable } from "node:stream";
import type { CliIo } from "../io.js";

export interface CapturedIo extends CliIo {
  out(): string;
  err(): string;
}

/** A CliIo whose stdout/stderr are collected in memory. */
export function captureIo(env: Record<string, string | undefined> = {}): CapturedIo {
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
  return { stdout: stdout.stream, stderr: stderr.stream, env, out: stdout.text, err: stderr.text };
}
