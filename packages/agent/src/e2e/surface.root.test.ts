import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { toCompact } from "@nsguard/sdk";
import { describe, expect } from "vitest";
import { collectKprobes, isRoot, kprobeOf, rootIt, startExampleAgent, waitFor } from "./root-tier.js";

const CLONE_NEWUTS = 0x4000000;
const CLONE_NEWNET = 0x40000000;

describe.runIf(isRoot || process.env.CI)("examples/namespace-surface.yaml (root tier)", () => {
  rootIt("reports unshare with its CLONE_NEW* flags and setns, each under its arch symbol", async () => {
    const agent = await startExampleAgent("namespace-surface.yaml", { nodeName: "surface" });
    const abort = new AbortController();
    try {
      const events = await collectKprobes(agent, { binaryRegex: ["/unshare$", "/nsenter$"] }, abort.signal);
      await promisify(execFile)("sh", ["-c", "unshare -n -u true && nsenter --net=/proc/self/ns/net true"]);
      await waitFor(() => events.length >= 2, 5000, "the unshare and setns events");

      const [unshare, setns] = events.map(kprobeOf);
      expect(unshare?.functionName).toBe("__x64_sys_unshare");
      expect(unshare?.args[0]?.arg).toEqual({ case: "intArg", value: CLONE_NEWNET | CLONE_NEWUTS });
      expect(unshare?.policyName).toBe("namespace-surface");
      expect(events.map((ev) => toCompact(ev))[0]).toBe("🔧 unshare surface /usr/bin/unshare net,uts");
      expect(setns?.functionName).toBe("__x64_sys_setns");
      expect(setns?.args[1]?.arg).toEqual({ case: "intArg", value: CLONE_NEWNET });
    } finally {
      abort.abort();
      await agent.stop();
    }
  });
});
