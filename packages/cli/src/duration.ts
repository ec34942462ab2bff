const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/**
 * Commander argument parser for tetra's duration flags (Go's time.ParseDuration syntax:
 * "30s", "1m30s", "500ms", "0"), in milliseconds. A bare number other than 0 is refused, as Go
 * refuses it, so `--timeout 5` does not silently mean 5 ms.
 */
export function parseGoDuration(name: string): (value: string) => number {
  return (value) => {
    if (value === "0") return 0;
    const parts = [...value.matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/g)];
    if (parts.length === 0 || parts.map((p) => p[0]).join("") !== value)
      throw new Error(`${name} must be a duration such as 30s, 1m or 500ms, got ${JSON.stringify(value)}`);
    return parts.reduce((ms, p) => ms + Number(p[1]) * (UNIT_MS[p[2] ?? ""] ?? 0), 0);
  };
}
