import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { toJson } from "@bufbuild/protobuf";
import { TimestampSchema } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { BootClock, estimateBootOffsetNs, timestampFromWallNs, wallNsFromTimestamp } from "./clock.js";

const wallNsOf = (iso: string, nanos: bigint) => BigInt(Date.parse(iso)) * 1_000_000n + nanos;

describe("BootClock", () => {
  it("adds the offset with nanosecond precision", () => {
    // The seed's nsenter: ktime 116977905434201 printed as 2026-01-30T18:15:19.985627895Z.
    const wall = wallNsOf("2026-01-30T18:15:19Z", 985627895n);
    const clock = new BootClock(wall - 116977905434201n);
    const ts = clock.toTimestamp(116977905434201n);
    expect(toJson(TimestampSchema, ts)).toBe("2026-01-30T18:15:19.985627895Z");
    expect(ts.nanos).toBe(985627895);
  });

  it("prints whole seconds without a fraction, like protojson", () => {
    expect(toJson(TimestampSchema, timestampFromWallNs(wallNsOf("2026-01-28T08:51:07Z", 0n)))).toBe(
      "2026-01-28T08:51:07Z",
    );
  });

  it("normalises negative remainders", () => {
    const ts = timestampFromWallNs(-1n);
    expect(ts.seconds).toBe(-1n);
    expect(ts.nanos).toBe(999_999_999);
    expect(wallNsFromTimestamp(ts)).toBe(-1n);
  });
});

describe("estimateBootOffsetNs", () => {
  it("maps the current boot time onto the current wall time", () => {
    const offset = estimateBootOffsetNs();
    const uptime = readFileSync("/proc/uptime", "utf8").split(" ")[0] ?? "0";
    const [secs = "0", frac = "0"] = uptime.split(".");
    const bootNowNs = BigInt(secs) * 1_000_000_000n + BigInt(frac.padEnd(9, "0"));
    const predictedWallMs = Number((bootNowNs + offset) / 1_000_000n);
    // /proc/uptime has 10 ms resolution; allow for it plus scheduling noise.
    expect(Math.abs(predictedWallMs - Date.now())).toBeLessThan(100);
  });

  it("puts a child we spawn at the wall time we spawned it", async () => {
    const before = Date.now();
    const child = spawn("sleep", ["30"], { stdio: "ignore" });
    try {
      await new Promise((resolve) => child.once("spawn", resolve));
      const stat = readFileSync(`/proc/${child.pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const startBootNs = BigInt(fields[19] ?? "0") * 10_000_000n; // CLK_TCK = 100
      const startWallMs = Number(new BootClock(estimateBootOffsetNs()).wallNs(startBootNs) / 1_000_000n);
      // starttime has 10 ms ticks (truncated), plus fork/exec latency.
      expect(startWallMs).toBeGreaterThanOrEqual(before - 30);
      expect(startWallMs).toBeLessThanOrEqual(Date.now() + 30);
    } finally {
      child.kill("SIGKILL");
    }
  });
});
