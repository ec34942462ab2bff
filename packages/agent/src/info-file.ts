import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { ServerAddresses } from "@nsguard/server";

/**
 * The agent's info file, Tetragon's InitInfo (pkg/bugtool, /var/run/tetragon/tetragon-info.json):
 * clients read `server_address` from it to find a running agent without flags, as tetra does.
 * The keys are Tetragon's; the addresses are the bound ones (a port of 0 is resolved).
 */
export interface InfoFile {
  /** The unix socket (`unix:///path`) when there is one, since it is where root controls the agent; else host:port. */
  server_address: string;
  metrics_address: string;
  export_fname: string;
  pid: number;
}

export function infoFileContent(
  addresses: ServerAddresses,
  extra: { metricsAddress?: string | undefined; exportFilename?: string | undefined },
): InfoFile {
  const tcp = addresses.tcp;
  const tcpAddress = tcp === undefined ? "" : tcp.url.replace(/^http:\/\//, "");
  return {
    server_address: addresses.unix !== undefined ? `unix://${addresses.unix}` : tcpAddress,
    metrics_address: extra.metricsAddress ?? "",
    export_fname: extra.exportFilename ?? "",
    pid: process.pid,
  };
}

/** Written to a temporary name and renamed, so a client never reads half a file. */
export function writeInfoFile(path: string, info: InfoFile): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(info)}\n`, { mode: 0o644 });
  renameSync(tmp, path);
}

/** Removes the file if it is still this process's (another agent may have started since). */
export function removeInfoFile(path: string): void {
  let pid: unknown;
  try {
    pid = (JSON.parse(readFileSync(path, "utf8")) as { pid?: unknown }).pid;
  } catch {
    return;
  }
  if (pid === process.pid) rmSync(path, { force: true });
}
