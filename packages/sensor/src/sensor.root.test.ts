import { spawnSync } from "node:child_process";
import type { RawEvent, RawSyscallEvent } from "@nsguard/native";
import { compileTracingPolicy, parseTracingPolicy } from "@nsguard/policy";
import { describe, expect, it } from "vitest";
import { Sensor } from "./sensor.js";
import { isSensorError } from "./sensor-error.js";

const isRoot = process.getuid?.() === 0;
const rootIt = isRoot ? it : process.env.CI ? it : it.skip;

function policy(name: string, call: string, extra = "") {
  return compileTracingPolicy(
    parseTracingPolicy(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: "${name}"
spec:
  kprobes:
  - call: "${call}"
    syscall: true
    args:
    - index: 0
      type: "int"
    - index: 1
      type: "int"
${extra}`),
  );
}

/** setns into our own network namespace: harmless, and always a real setns(2) call. */
function selfSetns(): number {
  const r = spawnSync("nsenter", ["--net=/proc/self/ns/net", "true"]);
  return r.status ?? -1;
}

describe("Sensor (root tier: loads BPF)", () => {
  rootIt(
    "delivers one event per policy when two policies hook the same syscall, and none after unload",
    async () => {
      if (!isRoot) throw new Error("root-tier test cannot run: CI must run as root");
      const events: RawEvent[] = [];
      const sensor = Sensor.start({
        onEvents: (batch) => {
          events.push(...batch.decodeAll());
          batch.release();
        },
      });
      try {
        await sensor.loadPolicy("a", policy("watch-a", "sys_setns"));
        await sensor.loadPolicy("b", policy("watch-b", "sys_setns"));
        const mine = () =>
          events.filter((e): e is RawSyscallEvent => e.op === "syscall" && e.task.comm === "nsenter");
        expect(selfSetns()).toBe(0);
        await waitFor(() => mine().length >= 2);
        const policies = mine().map((e) => sensor.hookInfo(e.hookId)?.policyName);
        expect(policies.sort()).toEqual(["watch-a", "watch-b"]);
        expect(mine()[0]?.fdKind).toBe("nsfs");

        await sensor.unloadPolicy("a");
        await sensor.unloadPolicy("b");
        const before = mine().length;
        expect(selfSetns()).toBe(0);
        await new Promise((r) => setTimeout(r, 100));
        expect(mine().length).toBe(before);
      } finally {
        await sensor.stop();
      }
    },
    // Loading the objects takes the verifier seconds on a loaded 2-core machine.
    60_000,
  );

  rootIt(
    "evaluates matchArgs and matchPIDs in the kernel as the compiled tables say",
    async () => {
      if (!isRoot) throw new Error("root-tier test cannot run: CI must run as root");
      const events: RawEvent[] = [];
      const sensor = Sensor.start({
        onEvents: (batch) => {
          events.push(...batch.decodeAll());
          batch.release();
        },
      });
      const argIs = (nstype: string) => `    selectors:
    - matchArgs: [{ index: 1, operator: Equal, values: ["${nstype}"] }]`;
      try {
        // nsenter --net calls setns(fd, CLONE_NEWNET): only the first two selectors match.
        await sensor.loadPolicy("net", policy("args-net", "sys_setns", argIs("0x40000000")));
        await sensor.loadPolicy("uts", policy("args-uts", "sys_setns", argIs("0x04000000")));
        await sensor.loadPolicy(
          "pid",
          policy(
            "pid-not-me",
            "sys_setns",
            `    selectors:\n    - matchPIDs: [{ operator: NotIn, followForks: false, values: [${process.pid}] }]`,
          ),
        );
        await sensor.loadPolicy(
          "other-pid",
          policy(
            "pid-only-1",
            "sys_setns",
            "    selectors:\n    - matchPIDs: [{ operator: In, values: [1] }]",
          ),
        );
        const mine = () =>
          events.filter((e): e is RawSyscallEvent => e.op === "syscall" && e.task.comm === "nsenter");
        expect(selfSetns()).toBe(0);
        await waitFor(() => mine().length >= 2, 20_000);
        // Later records of the same call would be in the same or the next batch.
        await new Promise((r) => setTimeout(r, 200));
        const policies = mine().map((e) => sensor.hookInfo(e.hookId)?.policyName);
        expect(policies.sort()).toEqual(["args-net", "pid-not-me"]);
      } finally {
        await sensor.stop();
      }
    },
    60_000,
  );

  rootIt("refuses a syscall that does not exist, with one clear line, and keeps nothing", async () => {
    if (!isRoot) throw new Error("root-tier test cannot run: CI must run as root");
    const sensor = Sensor.start({ onEvents: () => undefined });
    try {
      // The compiler refuses such a syscall already; a policy built in code meets the sensor's check.
      const bogus = policy("bogus", "sys_setns");
      for (const hook of bogus.hooks) {
        hook.syscall = "nsguard_nonexistent";
        hook.functionName = "__x64_sys_nsguard_nonexistent";
      }
      const err = await sensor.loadPolicy("x", bogus).catch((e) => e);
      expect(isSensorError(err)).toBe(true);
      expect(err.message).toBe(
        `spec.kprobes[0]: __x64_sys_nsguard_nonexistent: no ${process.arch} syscall named nsguard_nonexistent`,
      );
      expect(err.message).not.toContain("\n");
      // A kernel function (syscall: false) needs a kprobe, which this sensor does not attach.
      const kprobe = compileTracingPolicy(
        parseTracingPolicy(
          "apiVersion: cilium.io/v1alpha1\nkind: TracingPolicy\nmetadata: {name: creds}\nspec:\n  kprobes: [{call: commit_creds, syscall: false}]\n",
        ),
      );
      const refused = await sensor.loadPolicy("x", kprobe).catch((e) => e);
      expect(refused.message).toMatch(
        /^spec\.kprobes\[0\]: commit_creds: (this kernel has no kprobes|kprobes on kernel functions are not supported)/,
      );
      // The failed loads left nothing behind: the same key loads fine afterwards.
      await sensor.loadPolicy("x", policy("fine", "sys_setns"));
    } finally {
      await sensor.stop();
    }
  });
});

async function waitFor(predicate: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
}
