import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { createNsguardClient, EventType, type GetEventsResponse, toCompact } from "@nsguard/sdk";
import { describe, expect } from "vitest";
import { startAgent } from "../agent.js";
import { isRoot, rootIt, waitFor } from "./root-tier.js";

const EXAMPLES = new URL("../../../../examples/", import.meta.url).pathname;
const CLONE_NEWUTS = 0x4000000;
const CLONE_NEWNET = 0x40000000;

describe.runIf(isRoot || process.env.CI)("examples/namespace-surface.yaml (root tier)", () => {
  rootIt("reports unshare with its CLONE_NEW* flags and setns, each under its arch symbol", async () => {
    const agent = await startAgent({
      tracingPolicies: [join(EXAMPLES, "namespace-surface.yaml")],
      serverAddress: "127.0.0.1:0",
      serverSocket: "",
      nodeName: "surface",
      eventQueueSize: 1000,
      logLevel: "silent",
    });
    const abort = new AbortController();
    const events: GetEventsResponse[] = [];
    try {
      const client = createNsguardClient(agent.server.addresses.tcp?.url ?? "");
      const stream = (async () => {
        for await (const ev of client.getEvents(
          { allowList: [{ eventSet: [EventType.PROCESS_KPROBE], binaryRegex: ["/unshare$", "/nsenter$"] }] },
          { signal: abort.signal },
        )) {
          events.push(ev);
        }
      })().catch(() => undefined);
      await new Promise((r) => setTimeout(r, 300));
      await promisify(execFile)("sh", ["-c", "unshare -n -u true && nsenter --net=/proc/self/ns/net true"]);
      await waitFor(() => events.length >= 2, 5000, "the unshare and setns events");
      abort.abort();
      await stream;

      const [unshare, setns] = events.map((ev) =>
        ev.event.case === "processKprobe" ? ev.event.value : undefined,
      );
      expect(unshare?.functionName).toBe("__x64_sys_unshare");
      expect(unshare?.args[0]?.arg).toEqual({ case: "intArg", value: CLONE_NEWNET | CLONE_NEWUTS });
      expect(unshare?.policyName).toBe("namespace-surface");
      expect(toCompact(events[0] as GetEventsResponse)).toBe("🔧 unshare surface /usr/bin/unshare net,uts");
      expect(setns?.functionName).toBe("__x64_sys_setns");
      expect(setns?.args[1]?.arg).toEqual({ case: "intArg", value: CLONE_NEWNET });
    } finally {
      abort.abort();
      await agent.stop();
    }
  });
});
