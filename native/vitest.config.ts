// SPDX-License-Identifier: Apache-2.0
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["ts/**/*.test.ts"],
    // Child processes, not worker threads: the root tier loads BPF programs and spawns processes,
    // and one addon instance per process keeps those runs independent.
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
