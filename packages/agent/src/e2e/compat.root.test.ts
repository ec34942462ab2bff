import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KprobeAction } from "@nsguard/sdk";
import { afterAll, beforeAll, describe, expect } from "vitest";
import { SimulatedContainer, startHostAnchor } from "../sim/simulated-container.js";
import {
  collectKprobes,
  isRoot,
  kprobeOf,
  randomContainerId,
  rootIt,
  startExampleAgent,
  waitFor,
} from "./root-tier.js";

// A process must not slip past a setns hook by switching to the 32-bit syscall ABI: the syscall
// tracepoints do not fire for int 0x80 (kernel-findings §3c), so the sensor also watches the
// compat entry. fixtures/setns32.c enters the host network namespace that way.
const source = new URL("./fixtures/setns32.c", import.meta.url).pathname;
const CLONE_NEWNET = 0x40000000;

describe.runIf(isRoot || process.env.CI)("the 32-bit syscall entry (root tier)", () => {
  let dir: string;
  let setns32: string;
  let anchor: ReturnType<typeof startHostAnchor>;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "nsguard-compat-"));
    setns32 = join(dir, "setns32");
    execFileSync("cc", ["-O2", "-o", setns32, source]);
    anchor = startHostAnchor();
  });
  afterAll(() => {
    anchor?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function escapeWith32BitSetns(policy: string) {
    const agent = await startExampleAgent(policy);
    const abort = new AbortController();
    try {
      const events = await collectKprobes(agent, { binaryRegex: ["/setns32$"] }, abort.signal);
      const container = new SimulatedContainer({ id: randomContainerId() });
      const result = await container
        .run(`${setns32} /proc/${anchor.pid}/ns/net ${CLONE_NEWNET}; echo rc=$?`)
        .finally(() => container.remove());
      await waitFor(() => events.length >= 1, 5000, "the compat setns event");
      return { stdout: result.stdout, kprobe: kprobeOf(events[0]) };
    } finally {
      abort.abort();
      await agent.stop();
    }
  }

  rootIt("reports an int 0x80 setns as __ia32_sys_setns", async () => {
    const { stdout, kprobe } = await escapeWith32BitSetns("namespace-access.yaml");
    expect(stdout).toContain("ret=0"); // it did enter the host's network namespace
    expect(kprobe?.functionName).toBe("__ia32_sys_setns");
    expect(kprobe?.args[1]?.arg).toEqual({ case: "intArg", value: CLONE_NEWNET });
    expect(kprobe?.process?.binary).toBe(setns32);
  });

  rootIt("kills an int 0x80 setns from a container under the seed's deny policy", async () => {
    const { stdout, kprobe } = await escapeWith32BitSetns("deny-namespace-access.yaml");
    expect(stdout).not.toContain("ret=");
    expect(stdout).toContain("rc=137");
    expect(kprobe?.action).toBe(KprobeAction.SIGKILL);
  });
});
