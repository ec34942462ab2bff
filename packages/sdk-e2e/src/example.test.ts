import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { create } from "@bufbuild/protobuf";
import { GetEventsResponseSchema } from "@nsguard/sdk";
import { afterEach, describe, expect, it } from "vitest";
import { kprobeEvent, startTestAgent, type TestAgent, waitFor } from "./agent.js";

// examples/sdk-client, built by the workspace build (this package depends on it for the order).
const exampleMain = fileURLToPath(new URL("../../../examples/sdk-client/dist/main.js", import.meta.url));

const agents: TestAgent[] = [];
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.close()));
});

describe("examples/sdk-client (the SDK README's example)", () => {
  it("prints pod escapes only, survives an agent restart and exits cleanly on SIGINT", async () => {
    let agent = await startTestAgent();
    agents.push(agent);
    const child = spawn(process.execPath, [exampleMain, agent.address], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const out: string[] = [];
    const err: string[] = [];
    createInterface({ input: child.stdout }).on("line", (l) => out.push(l));
    createInterface({ input: child.stderr }).on("line", (l) => err.push(l));
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    try {
      await waitFor(() => agent.hub.subscriberCount === 1, "the example to subscribe", 30_000);
      agent.hub.publish(kprobeEvent("/usr/bin/nsenter")); // a host process: no pod
      agent.hub.publish(create(GetEventsResponseSchema, { event: { case: "processExec", value: {} } }));
      agent.hub.publish(kprobeEvent("/usr/bin/nsenter", { namespace: "default", name: "web-1" }));
      await waitFor(() => out.length === 1, "the pod's event");
      expect(out[0]).toContain("default/web-1 /usr/bin/nsenter");

      const port = agent.port;
      await agent.close();
      agents.splice(0);
      await waitFor(() => err.some((l) => l.startsWith("stream lost")), "the example to notice the drop");
      agent = await startTestAgent({ port });
      agents.push(agent);
      await waitFor(() => agent.hub.subscriberCount === 1, "the example to resubscribe", 30_000);
      agent.hub.publish(kprobeEvent("/usr/bin/unshare", { namespace: "prod", name: "api-0" }));
      await waitFor(() => out.length === 2, "the event after the restart");
      expect(out[1]).toContain("prod/api-0 /usr/bin/unshare");

      child.kill("SIGINT");
      expect(await exited).toBe(0);
    } finally {
      child.kill();
    }
  }, 90_000);
});
