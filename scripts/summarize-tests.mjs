// Sums the vitest JSON reports of every package plus the standing checks of scripts/test.sh into
// one plain "N passed, N failed" line. Exits 1 when anything failed or when no test ran at all.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const [checksPassed = 0, checksFailed = 0] = process.argv.slice(2).map(Number);
const reports = [
  ...readdirSync("packages").map((p) => join("packages", p, ".vitest-result.json")),
  join("native", ".vitest-result.json"),
  join("deploy", ".vitest-result.json"),
].filter((p) => existsSync(p));

let passed = checksPassed;
let failed = checksFailed;
let skipped = 0;
for (const report of reports) {
  const r = JSON.parse(readFileSync(report, "utf8"));
  passed += r.numPassedTests;
  failed += r.numFailedTests + (r.numFailedTestSuites ?? 0);
  skipped += r.numPendingTests + (r.numTodoTests ?? 0);
}
const testsRan = passed - checksPassed + failed - checksFailed > 0;
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed === 0 && testsRan ? 0 : 1);
