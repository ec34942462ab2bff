import { createServer, type RequestListener } from "node:http";
import type { AddressInfo } from "node:net";

export interface HttpEndpoint {
  /** `http://host:port`, the port resolved (an address ending in :0 gets an ephemeral one). */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * A small plain-HTTP listener (metrics, probes) on `host:port` or `:port`; `:port` means every
 * interface, as in Tetragon's flags. `flag` names the option in errors.
 */
export async function startHttpEndpoint(
  flag: string,
  address: string,
  handler: RequestListener,
): Promise<HttpEndpoint> {
  const match = /^(.*):(\d+)$/.exec(address);
  if (!match) throw new Error(`${flag}: expected host:port or :port, got "${address}"`);
  const host = match[1] === "" ? "0.0.0.0" : (match[1] as string).replace(/^\[(.*)\]$/, "$1");
  const server = createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err) => reject(new Error(`${flag} ${address}: ${err.message}`, { cause: err })));
    server.listen(Number(match[2]), host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
