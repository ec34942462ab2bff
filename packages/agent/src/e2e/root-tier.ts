import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  createNsguardClient,
  EventType,
  type FilterSchema,
  type GetEventsResponse,
  type ProcessKprobe,
} from "@nsguard/sdk";
import { it } from "vitest";
import { type AgentOptions, type RunningAgent, startAgent } from "../agent.js";

/**
 * Root-tier tests load BPF programs and create namespaces. They run when we are root; elsewhere
 * they skip with a message — except in CI (which runs as root on the same kernel), where being
 * unable to run them is a failure, not a skip.
 */
export const isRoot = process.getuid?.() === 0;

export function rootIt(name: string, fn: () => Promise<void>, timeoutMs = 60_000): void {
  if (isRoot) {
    it(name, fn, timeoutMs);
  } else if (process.env.CI) {
    it(name, () => {
      throw new Error("root-tier test cannot run: CI must run as root");
    });
  } else {
    it.skip(`${name} (skipped: needs root and BPF)`, fn);
  }
}

/** Ids of loaded BPF programs named nsguard_* (compare before/after: other tests may load theirs). */
export function loadedNsguardPrograms(): Set<number> {
  const out = execFileSync("bpftool", ["prog", "show", "-j"], { encoding: "utf8" });
  const programs = JSON.parse(out) as { id: number; name?: string }[];
  return new Set(programs.filter((p) => p.name?.startsWith("nsguard")).map((p) => p.id));
}

export function randomContainerId(): string {
  return randomBytes(32).toString("hex");
}

/** Resolves when `predicate` holds, polling; rejects after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const EXAMPLES = new URL("../../../../examples/", import.meta.url).pathname;

/** An agent with one example policy, listening on an ephemeral loopback port only. */
export function startExampleAgent(
  policy: string,
  options: Partial<AgentOptions> = {},
): Promise<RunningAgent> {
  return startAgent({
    tracingPolicies: [join(EXAMPLES, policy)],
    serverAddress: "127.0.0.1:0",
    serverSocket: "",
    nodeName: "e2e-node",
    eventQueueSize: 1000,
    logLevel: "silent",
    ...options,
  });
}

/**
 * Streams the agent's kprobe events that pass `filter` (a Tetragon Filter, e.g. binaryRegex or
 * policyNames) into an array, through a real gRPC client, until `signal` aborts. Resolves once
 * the stream is registered, so what happens next is seen.
 */
export async function collectKprobes(
  agent: RunningAgent,
  filter: Omit<MessageInitShape<typeof FilterSchema>, "$typeName" | "eventSet">,
  signal: AbortSignal,
): Promise<GetEventsResponse[]> {
  const events: GetEventsResponse[] = [];
  const url = agent.server.addresses.tcp?.url;
  if (!url) throw new Error("agent has no TCP listener");
  const allowList = [{ ...filter, eventSet: [EventType.PROCESS_KPROBE] }];
  const before = agent.hub.subscriberCount;
  (async () => {
    for await (const ev of createNsguardClient(url).getEvents({ allowList }, { signal })) events.push(ev);
  })().catch(() => undefined); // ends when the test aborts
  await waitFor(() => agent.hub.subscriberCount > before, 5000, "the GetEvents stream to register");
  return events;
}

export function kprobeOf(ev: GetEventsResponse | undefined): ProcessKprobe {
  if (ev?.event.case !== "processKprobe")
    throw new Error(`expected a process_kprobe event, got ${ev?.event.case}`);
  return ev.event.value;
}
