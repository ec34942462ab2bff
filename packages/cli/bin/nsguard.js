#!/usr/bin/env node
import { main } from "../dist/index.js";

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`nsguard: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
