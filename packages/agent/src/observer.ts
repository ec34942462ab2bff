import type { GetEventsResponse } from "@nsguard/sdk";
import type { HookInfo, RawEvent } from "@nsguard/sensor";
import {
  type BuildContext,
  buildExecEvent,
  buildExitEvent,
  buildKprobeEvent,
} from "./builder/event-builder.js";
import type { ProcessCache } from "./process/process-cache.js";

/** Where built events go (the event hub). */
export interface EventSink {
  publish(event: GetEventsResponse): void;
}

export interface ObserverDeps {
  cache: ProcessCache;
  sink: EventSink;
  context: BuildContext;
  /** Which policy hook a syscall record's cookie names (the sensor's registry). */
  hookInfo(hookId: number): HookInfo | undefined;
  /** Per-policy action counters (ListTracingPolicies NPOST/NENFORCE). */
  recordAction?(policyKey: string, action: "post" | "sigkill" | "monitor-sigkill"): void;
  onError?(err: unknown, raw: RawEvent): void;
}

export interface ObserverStats {
  exec: number;
  clone: number;
  exit: number;
  syscall: number;
  /** Syscall records whose hook was unloaded before they were read. */
  unknownHook: number;
  /** Records that could not be turned into events (bug or inconsistent record), see onError. */
  errors: number;
}

const KPROBE_ACTION_SIGKILL = 3;

/**
 * Turns kernel records into process-cache updates and Tetragon events, in ring-buffer order.
 * Runs on the JS thread for each batch the native reader hands over; a record that fails is
 * counted and skipped, never stops the batch.
 */
export class Observer {
  readonly stats: ObserverStats = { exec: 0, clone: 0, exit: 0, syscall: 0, unknownHook: 0, errors: 0 };

  constructor(private readonly deps: ObserverDeps) {}

  handleBatch(batch: readonly RawEvent[]): void {
    for (const raw of batch) {
      try {
        this.handle(raw);
      } catch (err) {
        this.stats.errors++;
        this.deps.onError?.(err, raw);
      }
    }
  }

  private handle(raw: RawEvent): void {
    const { cache, sink, context } = this.deps;
    switch (raw.op) {
      case "exec":
        this.stats.exec++;
        cache.upsertFromExec(raw);
        sink.publish(buildExecEvent(raw, cache, context));
        return;
      case "clone":
        this.stats.clone++;
        cache.upsertFromClone(raw);
        return;
      case "exit":
        this.stats.exit++;
        // The cache keeps an exited process for a grace period, so the event still resolves it.
        cache.markExit(raw);
        sink.publish(buildExitEvent(raw, cache, context));
        return;
      case "syscall": {
        this.stats.syscall++;
        const info = this.deps.hookInfo(raw.hookId);
        if (!info) {
          this.stats.unknownHook++;
          return;
        }
        const { hook } = info;
        sink.publish(
          buildKprobeEvent(
            raw,
            {
              // The 32-bit entry is another kernel symbol (__ia32_sys_setns), as Tetragon names it.
              functionName: raw.compat ? (info.compatFunctionName ?? hook.functionName) : hook.functionName,
              policyName: info.policyName,
              args: hook.args,
              message: hook.message,
              tags: hook.tags,
            },
            cache,
            context,
          ),
        );
        // In monitor mode a Sigkill selector posts instead; its table says so (monitorOnly).
        const selector = raw.selector > 0 ? hook.table.selectors[raw.selector - 1] : undefined;
        this.deps.recordAction?.(
          info.policyKey,
          raw.action === KPROBE_ACTION_SIGKILL
            ? "sigkill"
            : selector?.monitorOnly
              ? "monitor-sigkill"
              : "post",
        );
        return;
      }
    }
  }
}
