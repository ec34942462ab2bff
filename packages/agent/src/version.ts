import { readFileSync } from "node:fs";

/** The package version, reported by GetVersion / `nsguard version`. */
export const AGENT_VERSION: string = JSON.parse(
  readFileSync(new URL("../package.json", import.meta.url), "utf8"),
).version;
