import { describe, expect, it } from "vitest";
import { startHealthServer } from "./health-server.js";

describe("health server (real HTTP)", () => {
  it("answers /healthz and /readyz from the checks, 503 with the reason when not ok, 404 elsewhere", async () => {
    let ready = false;
    const server = await startHealthServer("127.0.0.1:0", {
      live: () => ({ ok: true, reason: "ok" }),
      ready: () => ({ ok: ready, reason: ready ? "ready" : "starting" }),
    });
    try {
      const live = await fetch(`${server.url}/healthz`);
      expect([live.status, await live.text()]).toEqual([200, "ok\n"]);
      const notYet = await fetch(`${server.url}/readyz`);
      expect([notYet.status, await notYet.text()]).toEqual([503, "starting\n"]);
      ready = true;
      const now = await fetch(`${server.url}/readyz?verbose=1`);
      expect([now.status, await now.text()]).toEqual([200, "ready\n"]);
      expect((await fetch(`${server.url}/metrics`)).status).toBe(404);
    } finally {
      await server.close();
    }
  });

  it("reports a throwing check as not ok", async () => {
    const server = await startHealthServer("127.0.0.1:0", {
      live: () => {
        throw new Error("boom");
      },
      ready: () => ({ ok: true, reason: "ready" }),
    });
    try {
      const res = await fetch(`${server.url}/healthz`);
      expect([res.status, await res.text()]).toEqual([503, "check failed: boom\n"]);
    } finally {
      await server.close();
    }
  });

  it("binds where told: loopback by address, and names its flag on a bad address", async () => {
    const server = await startHealthServer("127.0.0.1:0", {
      live: () => ({ ok: true, reason: "ok" }),
      ready: () => ({ ok: true, reason: "ready" }),
    });
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    await server.close();
    await expect(
      startHealthServer("6789", {
        live: () => ({ ok: true, reason: "" }),
        ready: () => ({ ok: true, reason: "" }),
      }),
    ).rejects.toThrow('--health-server-address: expected host:port or :port, got "6789"');
  });
});
