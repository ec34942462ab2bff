import { defineConfig } from "vitest/config";

// The root test builds the image and runs containers: one file at a time, as the agent's root tier.
export default defineConfig({ test: { include: ["test/**/*.test.ts"], fileParallelism: false } });
