/**
 * Commander argument parser for tetra-style list flags: each occurrence may hold a
 * comma-separated list, and repeated occurrences accumulate (cobra's StringSlice).
 */
export function collectList(value: string, previous: string[] | undefined): string[] {
  return [
    ...(previous ?? []),
    ...value
      .split(",")
      .map((v) => v.trim())
      .filter((v) => v !== ""),
  ];
}

/** Commander argument parser for repeatable single-value flags (no comma splitting). */
export function collectRepeated(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Commander argument parser for a non-negative integer flag. */
export function parseCount(name: string): (value: string) => number {
  return (value) => {
    if (!/^\d+$/.test(value))
      throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(value)}`);
    return Number(value);
  };
}
