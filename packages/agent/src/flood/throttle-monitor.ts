import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import {
  type GetEventsResponse,
  GetEventsResponseSchema,
  ProcessThrottleSchema,
  ThrottleType,
} from "@nsguard/sdk";
import { containerIdFromCgroup } from "../container/container-id.js";

/**
 * A source the kernel suppressed events of while the pipeline was saturated (an entry of the
 * kernel's nsguard_sources table, cgroup level).
 */
export interface SuppressedSource {
  cgroupId: bigint;
  /** 0 for the cgroup-level entry; a tgid for a process-level one. */
  pid: number;
  cgroupName: string;
  /** Events suppressed since the kernel made the entry. */
  suppressed: bigint;
}

export interface ThrottleMonitorDeps {
  /** The kernel's exact total of suppressed events (one counter read: cheap while idle). */
  suppressedTotal(): bigint;
  /** The per-source table (a map walk: only read when the total moved or a throttle is open). */
  sources(): readonly SuppressedSource[];
  /** Where throttle events go (the hub, as priority events: a flood never evicts them). */
  publish(event: GetEventsResponse): void;
  nodeName: string;
}

/** A throttle ends when its source has had nothing suppressed for this long. */
export const THROTTLE_STOP_AFTER_MS = 1000;

interface OpenThrottle {
  /** The source's suppressed count when the throttle started. */
  baseline: bigint;
  lastSuppressed: bigint;
  lastChangeMs: number;
  cgroupName: string;
}

/**
 * Turns the kernel's suppression counts into Tetragon's `process_throttle` events: THROTTLE_START
 * when a container's events start being suppressed, THROTTLE_STOP once nothing of it has been
 * suppressed for THROTTLE_STOP_AFTER_MS. Both carry the episode's count so far
 * (`suppressed_events`, an nsguard field): START the events suppressed before it was noticed,
 * STOP the episode's total.
 *
 * Suppression is decided in the kernel (bpf/syscalls.bpf.c: fair sharing under saturation);
 * this only reports it, polled from user space so that reporting a flood never competes with the
 * flood for ring-buffer space.
 */
export class ThrottleMonitor {
  readonly #open = new Map<bigint, OpenThrottle>();
  /** Last suppressed count seen per cgroup: the baseline of its next episode. */
  readonly #seen = new Map<bigint, bigint>();
  #lastTotal = 0n;

  constructor(private readonly deps: ThrottleMonitorDeps) {
    this.#lastTotal = deps.suppressedTotal();
    for (const s of deps.sources()) if (s.pid === 0) this.#seen.set(s.cgroupId, s.suppressed);
  }

  /** Cgroups being throttled now. */
  get throttledSources(): number {
    return this.#open.size;
  }

  /** One poll; call every ~250 ms. */
  tick(nowMs: number): void {
    const total = this.deps.suppressedTotal();
    if (total === this.#lastTotal && this.#open.size === 0) return;
    this.#lastTotal = total;
    const present = new Set<bigint>();
    for (const source of this.deps.sources()) {
      if (source.pid !== 0) continue;
      present.add(source.cgroupId);
      const previous = this.#seen.get(source.cgroupId) ?? 0n;
      this.#seen.set(source.cgroupId, source.suppressed);
      const open = this.#open.get(source.cgroupId);
      if (source.suppressed > previous) {
        if (open) {
          open.lastSuppressed = source.suppressed;
          open.lastChangeMs = nowMs;
        } else {
          this.#open.set(source.cgroupId, {
            baseline: previous,
            lastSuppressed: source.suppressed,
            lastChangeMs: nowMs,
            cgroupName: source.cgroupName,
          });
          this.#emit(
            ThrottleType.THROTTLE_START,
            source.cgroupId,
            source.cgroupName,
            source.suppressed - previous,
          );
        }
      } else if (source.suppressed < previous) {
        // The kernel recycled the entry (LRU): start counting afresh from its new value.
        this.#seen.set(source.cgroupId, source.suppressed);
      }
    }
    for (const [cgroupId, open] of this.#open) {
      // Gone from the table (evicted) or quiet long enough: the episode is over.
      if (!present.has(cgroupId) || nowMs - open.lastChangeMs >= THROTTLE_STOP_AFTER_MS) {
        this.#open.delete(cgroupId);
        this.#emit(
          ThrottleType.THROTTLE_STOP,
          cgroupId,
          open.cgroupName,
          open.lastSuppressed - open.baseline,
        );
      }
    }
  }

  /** Ends every open throttle (agent stop): each START gets its STOP. */
  close(): void {
    for (const [cgroupId, open] of this.#open) {
      this.#emit(ThrottleType.THROTTLE_STOP, cgroupId, open.cgroupName, open.lastSuppressed - open.baseline);
    }
    this.#open.clear();
  }

  #emit(type: ThrottleType, cgroupId: bigint, cgroupName: string, suppressed: bigint): void {
    this.deps.publish(
      create(GetEventsResponseSchema, {
        event: {
          case: "processThrottle",
          value: create(ProcessThrottleSchema, {
            type,
            cgroup: cgroupName,
            suppressedEvents: suppressed,
            cgroupId,
            docker: containerIdFromCgroup(cgroupName, { kernelSource: true }).docker,
          }),
        },
        nodeName: this.deps.nodeName,
        time: timestampNow(),
      }),
    );
  }
}
