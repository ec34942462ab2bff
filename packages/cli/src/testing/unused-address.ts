import type { AddressInfo } from "node:net";
import * as net from "node:net";

/** A port on 127.0.0.1 with nothing listening (bound, then released). */
export async function unusedAddress(): Promise<string> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `127.0.0.1:${port}`;
}
