import type { TracingPolicyStatus } from "@nsguard/sdk";
import { TracingPolicyMode, TracingPolicyState } from "@nsguard/sdk";

const header = [
  "ID",
  "NAME",
  "STATE",
  "FILTERID",
  "NAMESPACE",
  "SENSORS",
  "KERNELMEMORY",
  "MODE",
  "NPOST",
  "NENFORCE",
  "NMONITOR",
];

/** `tetra tracingpolicy list` as text: one row per policy, columns aligned with 3 spaces between. */
export function formatPolicyTable(policies: readonly TracingPolicyStatus[]): string[] {
  const rows = policies.map((p) => {
    const c = p.stats?.actionCounters;
    const enforce = (c?.signal ?? 0n) + (c?.override ?? 0n) + (c?.notifyEnforcer ?? 0n) + (c?.set ?? 0n);
    const monitor =
      (c?.monitorSignal ?? 0n) +
      (c?.monitorOverride ?? 0n) +
      (c?.monitorNotifyEnforcer ?? 0n) +
      (c?.monitorSet ?? 0n);
    return [
      String(p.id),
      p.name,
      enumWord(TracingPolicyState[p.state], "TP_STATE_"),
      String(p.filterId),
      p.namespace === "" ? "(global)" : p.namespace,
      p.sensors.join(","),
      humanBytes(p.kernelMemoryBytes),
      enumWord(TracingPolicyMode[p.mode], "TP_MODE_"),
      String(c?.post ?? 0n),
      String(enforce),
      String(monitor),
    ];
  });
  return alignColumns([header, ...rows]);
}

// protobuf-es strips the shared prefix from enum keys (TP_STATE_ENABLED → ENABLED).
function enumWord(key: string | undefined, prefix: string): string {
  return (key ?? "unknown").replace(prefix, "").toLowerCase();
}

/** Base-1000 sizes as tetra shows kernel memory, e.g. 2400000 → "2.40 MB". */
export function humanBytes(n: bigint): string {
  const units = ["kB", "MB", "GB", "TB", "PB", "EB"];
  if (n < 1000n) return `${n} B`;
  let value = Number(n) / 1000;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(2)} ${units[unit]}`;
}

// Go tabwriter with padding 3: every column but the last is padded to its widest cell + 3.
function alignColumns(rows: readonly string[][]): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, [...cell].length);
  }
  return rows.map((row) =>
    row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd((widths[i] ?? 0) + 3))).join(""),
  );
}
