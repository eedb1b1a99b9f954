import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "client/**/*.test.ts"],
    // One PostgreSQL server for the run (an embedded one unless TEST_DATABASE_URL names yours).
    globalSetup: ["test/support/database-server.ts"],
    setupFiles: ["test/support/env.ts"],
    // Each file gets its own process: function modules, the pool and the config cache are per instance.
    pool: "forks",
    testTimeout: 20_000,
    hookTimeout: 60_000,
    reporters: ["default"],
  },
});
