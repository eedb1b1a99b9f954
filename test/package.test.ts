/** The deployment package (what azd uploads) holds the compiled app and production dependencies only. */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = path.resolve(__dirname, "..");
const scratch = mkdtempSync(path.join(tmpdir(), "package-test-"));
const out = path.join(scratch, "deploy");

beforeAll(() => {
  execFileSync(process.execPath, [path.join(ROOT, "scripts/package.mjs")], { cwd: ROOT, env: { ...process.env, DEPLOY_DIR: out }, stdio: "pipe" });
}, 300_000);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("npm run package", () => {
  it("stages only the compiled app, host.json and the manifests", () => {
    expect(readdirSync(out).sort()).toEqual(["dist", "host.json", "node_modules", "package-lock.json", "package.json"]);
    expect(readdirSync(path.join(out, "dist")).sort()).toEqual(["functions", "shared"]);
    for (const absent of ["test", "bench", "local", "infra", "functions", "shared", "local.settings.json", "tsconfig.json"]) {
      expect(existsSync(path.join(out, absent)), absent).toBe(false);
    }
  });

  it("installs production dependencies and no dev dependency", () => {
    const installed = (name: string) => existsSync(path.join(out, "node_modules", ...name.split("/")));
    for (const name of ["@azure/functions", "@azure/web-pubsub", "@azure/web-pubsub-express", "@azure/identity", "pg", "zod", "jsonwebtoken", "bcryptjs", "swagger-ui-dist"]) {
      expect(installed(name), name).toBe(true);
    }
    for (const name of ["vitest", "typescript", "tsx", "eslint", "@electric-sql/pglite", "ws", "azurite"]) {
      expect(installed(name), name).toBe(false);
    }
  });
});
