import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";

export default defineConfig(({ mode }) => ({
  test: {
    include: ["test/**/*.test.ts", "client/**/*.test.ts"],
    // One PostgreSQL server for the run (an embedded one unless TEST_DATABASE_URL names yours).
    globalSetup: ["test/support/database-server.ts"],
    setupFiles: ["test/support/env.ts"],
    // Each file gets its own process: function modules, the pool and the config cache are per instance.
    pool: "forks",
    // Most files spend their time waiting on the database and sockets, so one more file than
    // there are CPUs keeps them busy (vitest's default leaves one CPU idle).
    maxWorkers: availableParallelism() + 1,
    // `vitest --mode full-scale` (npm run test:full-scale) runs the scale tests at full size (test/support/scale.ts).
    env: mode === "full-scale" ? { TEST_SCALE: "full" } : {},
    testTimeout: 20_000,
    hookTimeout: 60_000,
    reporters: ["default"],
  },
}));
