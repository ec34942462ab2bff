import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createFineGuidanceSensorsRoutes, EventHub, startServer } from "@nsguard/server";
import { afterAll, describe, expect, it } from "vitest";
import { infoFileContent, removeInfoFile, writeInfoFile } from "./info-file.js";

const dir = mkdtempSync(join(tmpdir(), "nsguard-info-file-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the agent's info file", () => {
  it("names the bound addresses, the unix socket first, in Tetragon's keys", async () => {
    const socket = join(dir, "nsguard.sock");
    const server = await startServer({
      routes: createFineGuidanceSensorsRoutes({ events: new EventHub(), version: "test" }),
      tcpAddress: "127.0.0.1:0",
      unixSocket: socket,
    });
    try {
      const port = server.addresses.tcp?.port;
      expect(port).toBeGreaterThan(0);
      expect(infoFileContent(server.addresses, { exportFilename: "/var/log/x.log" })).toEqual({
        server_address: `unix://${socket}`,
        metrics_address: "",
        export_fname: "/var/log/x.log",
        pid: process.pid,
      });
      // Without a socket, the TCP listener with its real port (":0" resolved).
      expect(infoFileContent({ tcp: server.addresses.tcp }, {}).server_address).toBe(`127.0.0.1:${port}`);
    } finally {
      await server.close();
    }
  });

  it("is written whole (directories created) and removed only by the agent that wrote it", () => {
    const path = join(dir, "run", "nsguard", "nsguard-info.json");
    const info = {
      server_address: "unix:///x.sock",
      metrics_address: "",
      export_fname: "",
      pid: process.pid,
    };
    writeInfoFile(path, info);
    expect(JSON.parse(readFileSync(path, "utf8"))).toEqual(info);
    writeFileSync(path, JSON.stringify({ ...info, pid: process.pid + 1 }));
    removeInfoFile(path);
    expect(existsSync(path)).toBe(true);
    writeInfoFile(path, info);
    removeInfoFile(path);
    expect(existsSync(path)).toBe(false);
    removeInfoFile(path); // gone already: nothing to do
  });
});
