/**
 * The deployment as Azure receives it (test/support/infra-suite.ts) needs a Bicep CLI. Where none can
 * be had (no bicep, no az, no dotnet to restore one: Node alone), this file reports itself skipped and
 * names what to install; with CI set it always runs, and fails when no CLI can be had.
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { describe, it } from "vitest";

const ROOT = path.resolve(__dirname, "..");
const check = spawnSync(process.execPath, [path.join(ROOT, "scripts", "bicep.mjs"), "available"], { cwd: ROOT, encoding: "utf8" });
const skip = check.status !== 0 && !process.env.CI;

if (skip) {
  const reason = `test/infra.test.ts skipped: ${check.stdout.trim()}`;
  console.warn(reason);
  describe("infra/main.bicep compiled by the Bicep CLI", () => {
    it.skip(reason, () => {});
  });
} else {
  describe("infra/main.bicep compiled by the Bicep CLI", async () => {
    await import("./support/infra-suite.js");
  });
}
