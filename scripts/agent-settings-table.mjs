// Regenerates the table of `nsguard agent` settings in README.md (between the agent-settings
// markers) from the command's own option definitions: node scripts/agent-settings-table.mjs
// (after building packages/cli). packages/cli/src/agent-config.test.ts fails while it is stale.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";

const repo = new URL("../", import.meta.url).pathname;
const readmePath = `${repo}README.md`;
// --max-semi-space-size: bin/nsguard.js would otherwise start `agent` once more with it.
const table = execFileSync(
  process.execPath,
  ["--max-semi-space-size=4", `${repo}packages/cli/bin/nsguard.js`, "agent", "--generate-docs"],
  { encoding: "utf8" },
).trimEnd();
const readme = readFileSync(readmePath, "utf8");
const section = /(<!-- agent-settings:begin -->\n)(?:[\s\S]*?\n)?(<!-- agent-settings:end -->)/;
if (!section.test(readme)) throw new Error("README.md has no <!-- agent-settings:begin/end --> section");
writeFileSync(
  readmePath,
  readme.replace(section, (_m, begin, end) => `${begin}${table}\n${end}`),
);
