import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import type { Timestamp } from "@bufbuild/protobuf/wkt";

const NS_PER_SEC = 1_000_000_000n;
const NS_PER_MS = 1_000_000n;

/**
 * Converts kernel boot-clock nanoseconds (bpf_ktime_get_boot_ns, /proc/<pid>/stat starttime)
 * into wall-clock protobuf Timestamps: wall = bootNs + offset, offset = CLOCK_REALTIME −
 * CLOCK_BOOTTIME.
 *
 * The offset is a constructor argument because the exact value needs clock_gettime(), which
 * only the native addon can call; it should pass both clocks read back to back. The JS fallback
 * ({@link estimateBootOffsetNs}) is good to about a millisecond. The offset moves when the wall
 * clock is stepped (NTP, settimeofday), so a long-running agent should build a new clock from a
 * fresh reading now and then; values already stored keep the offset they were made with, which
 * is also what Tetragon does (it converts each ktime at the moment it handles it).
 */
export class BootClock {
  constructor(readonly offsetNs: bigint) {}

  /** A clock from the pure-JS estimate; for clients and tests that have no native addon. */
  static estimate(procRoot = "/proc"): BootClock {
    return new BootClock(estimateBootOffsetNs(procRoot));
  }

  wallNs(bootNs: bigint): bigint {
    return bootNs + this.offsetNs;
  }

  toTimestamp(bootNs: bigint): Timestamp {
    return timestampFromWallNs(this.wallNs(bootNs));
  }
}

/** Exact nanoseconds since the Unix epoch → Timestamp (nanos always in [0, 1e9)). */
export function timestampFromWallNs(wallNs: bigint): Timestamp {
  let seconds = wallNs / NS_PER_SEC;
  let nanos = wallNs % NS_PER_SEC;
  if (nanos < 0n) {
    nanos += NS_PER_SEC;
    seconds -= 1n;
  }
  // A literal rather than create(): this runs for every event, and create()'s reflection cost
  // more than the rest of the conversion. Same shape as create(TimestampSchema, …) makes.
  return { $typeName: "google.protobuf.Timestamp", seconds, nanos: Number(nanos) };
}

/** Timestamp → nanoseconds since the Unix epoch. */
export function wallNsFromTimestamp(ts: Timestamp): bigint {
  return ts.seconds * NS_PER_SEC + BigInt(ts.nanos);
}

/**
 * Estimates CLOCK_REALTIME − CLOCK_BOOTTIME without native code.
 *
 * Node has no CLOCK_BOOTTIME, and /proc/uptime (which is CLOCK_BOOTTIME) only has 10 ms
 * resolution. So: take CLOCK_MONOTONIC from process.hrtime (ns resolution) and add the time the
 * machine spent suspended (BOOTTIME − MONOTONIC, which only changes across a suspend), measured
 * against /proc/uptime and ignored when it is within that file's resolution. The wall clock comes
 * from performance.timeOrigin + performance.now() (µs resolution), unless the wall clock was
 * stepped since this process started, in which case Date.now() (ms) is the truth.
 */
export function estimateBootOffsetNs(procRoot = "/proc"): bigint {
  const monoNs = process.hrtime.bigint();
  const preciseWallNs = preciseRealtimeNs();
  const dateWallNs = BigInt(Date.now()) * NS_PER_MS;
  const uptimeNs = readUptimeNs(procRoot);

  const stepped = abs(preciseWallNs - dateWallNs) > 2n * NS_PER_MS;
  const wallNs = stepped ? dateWallNs : preciseWallNs;

  let suspendedNs = uptimeNs === undefined ? 0n : uptimeNs - monoNs;
  // /proc/uptime has 10 ms resolution; anything smaller is reading noise, not suspend time.
  if (abs(suspendedNs) < 50n * NS_PER_MS) suspendedNs = 0n;
  return wallNs - (monoNs + suspendedNs);
}

function preciseRealtimeNs(): bigint {
  // Keep the integer milliseconds in bigint: a double holding epoch-ns would lose ~256 ns.
  const origin = performance.timeOrigin;
  const whole = Math.floor(origin);
  const fracMs = origin - whole + performance.now();
  return BigInt(whole) * NS_PER_MS + BigInt(Math.round(fracMs * 1e6));
}

function readUptimeNs(procRoot: string): bigint | undefined {
  try {
    const text = readFileSync(`${procRoot}/uptime`, "utf8");
    const match = /^(\d+)\.(\d+)/.exec(text);
    if (!match) return undefined;
    const [, secs = "0", frac = "0"] = match;
    return BigInt(secs) * NS_PER_SEC + BigInt(frac.padEnd(9, "0").slice(0, 9));
  } catch {
    return undefined;
  }
}

function abs(v: bigint): bigint {
  return v < 0n ? -v : v;
}
