/**
 * `npm ci && npm test` on a machine with Node alone: the tests that need a Bicep CLI
 * (test/infra/template-*.test.ts, test/infra/production-profile.test.ts) report themselves skipped and name what
 * to install; with CI set they run and fail for want of one. Runs those files in a child vitest whose
 * PATH holds only node and whose cache holds no restored CLI.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

import { ROOT } from "../support/clone";

const BICEP_FILES = [
  "test/infra/template-parameters.test.ts",
  "test/infra/template-settings.test.ts",
  "test/infra/template-resources.test.ts",
  "test/infra/template-roles.test.ts",
  "test/infra/template-capacity.test.ts",
  "test/infra/production-profile.test.ts",
];

const scratch = mkdtempSync(path.join(tmpdir(), "node-alone-"));
symlinkSync(process.execPath, path.join(scratch, "node"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function infraTestWithNodeAlone(ci: boolean) {
  const env: NodeJS.ProcessEnv = { PATH: scratch, HOME: scratch, XDG_CACHE_HOME: path.join(scratch, "cache") };
  // The run's database server, so the child starts no embedded server of its own.
  env.TEST_DATABASE_URL = process.env.TEST_DATABASE_URL;
  if (ci) env.CI = "true";
  const run = spawnSync(process.execPath, [path.join(ROOT, "node_modules", "vitest", "vitest.mjs"), "run", ...BICEP_FILES], {
    cwd: ROOT,
    env,
    encoding: "utf8",
    timeout: 120_000,
  });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

describe("the Bicep-dependent tests on a machine with Node alone", () => {
  it("report themselves skipped, naming what to install", () => {
    const { status, output } = infraTestWithNodeAlone(false);
    expect(status, output).toBe(0);
    for (const file of BICEP_FILES)
      expect(output).toContain(`${file} skipped: no Bicep CLI: install the Bicep CLI (https://aka.ms/bicep-install)`);
    expect(output).toMatch(/\d+ skipped/);
    expect(output).not.toMatch(/ (failed|passed)/);
  }, 120_000);

  it("with CI set, run and fail when no CLI can be had", () => {
    const { status, output } = infraTestWithNodeAlone(true);
    expect(status).not.toBe(0);
    expect(output).not.toContain("skipped: no Bicep CLI");
    expect(output).toMatch(/dotnet restore of Azure\.Bicep\.CommandLine|ENOENT/);
  }, 120_000);
});
