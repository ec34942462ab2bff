/** A TCP listen address split into the parts `net.Server.listen` takes. */
export interface TcpListenAddress {
  /** Undefined means every interface (":54321"). */
  host: string | undefined;
  port: number;
}

/**
 * Parses Tetragon-style `--server-address` TCP values: "localhost:54321", "127.0.0.1:0",
 * "[::1]:54321", ":54321" (every interface). Empty means "no TCP listener" and returns
 * undefined. Throws on anything else, so a typo fails at start-up instead of listening
 * somewhere unexpected.
 */
export function parseTcpAddress(address: string | undefined): TcpListenAddress | undefined {
  if (address === undefined || address.trim() === "") {
    return undefined;
  }
  const trimmed = address.trim();
  const colon = trimmed.lastIndexOf(":");
  if (colon < 0) {
    throw new Error(`invalid TCP address "${address}": expected host:port`);
  }
  let host = trimmed.slice(0, colon);
  const portText = trimmed.slice(colon + 1);
  if (host.startsWith("[") && host.endsWith("]")) {
    host = host.slice(1, -1);
  } else if (host.includes(":")) {
    throw new Error(`invalid TCP address "${address}": IPv6 hosts need brackets, e.g. [::1]:54321`);
  }
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) {
    throw new Error(`invalid TCP address "${address}": port must be 0-65535`);
  }
  return { host: host === "" ? undefined : host, port };
}

/**
 * Accepts a plain path or Tetragon's "unix:///var/run/tetragon/tetragon.sock" form.
 * Empty means "no unix socket".
 */
export function parseUnixSocketPath(path: string | undefined): string | undefined {
  if (path === undefined || path.trim() === "") {
    return undefined;
  }
  const trimmed = path.trim();
  return trimmed.startsWith("unix://") ? trimmed.slice("unix://".length) : trimmed;
}
