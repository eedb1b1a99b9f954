/**
 * What azd ships: from a fresh clone, azd restores (`npm install`), runs the service's prepackage
 * hook, runs `npm run build` and zips the folder `dist` names, relative to the service's `project`
 * (test/infra/azd-conformance.test.ts holds that order against azd's source).
 * This test copies the repository's files (tracked and new, not ignored) into an empty folder, gives
 * it the installed node_modules in place of azd's restore, plants what an old clone could hold (a
 * stale .deploy/ and a compiled function whose source is gone), runs the hook command exactly as
 * azure.yaml states it, and checks the folder azd would zip.
 */
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { azureYaml } from "../support/azure-yaml";
import { cloneRepository } from "../support/clone";

const ROOT = path.resolve(__dirname, "../..");
const clone = cloneRepository("package-test-");
const service = azureYaml(readFileSync(path.join(ROOT, "azure.yaml"), "utf8")).services.api;
const hook = service.hooks.prepackage.posix;
const out = path.join(clone, service.project, service.dist);

beforeAll(() => {
  mkdirSync(path.join(clone, ".deploy"));
  writeFileSync(path.join(clone, ".deploy", "stale-from-an-old-package.txt"), "old");
  mkdirSync(path.join(clone, "dist", "functions"), { recursive: true });
  writeFileSync(path.join(clone, "dist", "functions", "deleted-function.js"), "old");
  execFileSync(hook.shell, ["-c", hook.run], { cwd: path.join(clone, service.project), stdio: "pipe" });
}, 300_000);
afterAll(() => rmSync(clone, { recursive: true, force: true }));

describe("azure.yaml packaging", () => {
  it("a prepackage hook that fails the deploy when it fails, the same on every OS", () => {
    expect(service).toMatchObject({ project: ".", language: "ts", host: "function", dist: ".deploy", remoteBuild: "false" });
    expect(hook).toEqual({ shell: "sh", run: "npm run package", continueOnError: "false" });
    expect(service.hooks.prepackage.windows).toEqual({ shell: "pwsh", run: "npm run package", continueOnError: "false" });
  });
});

describe("the folder azd zips, staged by the hook in a fresh clone", () => {
  it("holds only the bundle, host.json and package.json: nothing stale, no node_modules", () => {
    expect(readdirSync(out).sort()).toEqual(["dist", "host.json", "package.json"]);
    for (const absent of [
      "test",
      "bench",
      "local",
      "infra",
      "functions",
      "shared",
      "tools",
      "node_modules",
      "local.settings.json",
      "tsconfig.json",
    ]) {
      expect(existsSync(path.join(out, absent)), absent).toBe(false);
    }
  });

  it("has a fresh build: the bundle main names, nothing left from an old build", () => {
    const files = readdirSync(path.join(out, "dist"));
    expect(files).toEqual(expect.arrayContaining(["main.mjs", "password-worker.js", "swagger-ui"]));
    // Besides those: the entry's chunks, source maps and license notes only (the planted old function is gone).
    for (const file of files.filter((f) => !["password-worker.js", "swagger-ui"].includes(f)))
      expect(file).toMatch(/\.(mjs|map|LEGAL\.txt)$/);
  });

  it("has a package.json with only what the host reads (name, version, type, main): a remote build, if one ran, would have nothing to install or build", () => {
    const root = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as Record<string, unknown>;
    const pkg = JSON.parse(readFileSync(path.join(out, "package.json"), "utf8")) as Record<string, unknown>;
    expect(pkg).toEqual({ name: root.name, version: root.version, type: root.type, main: "dist/main.mjs" });
  });

  it("loads on its own, as the worker loads it, registers every function and runs its start-up", () => {
    // A fresh Node with only the worker's @azure/functions-core, and no node_modules anywhere above the package.
    const alone = path.join(mkdtempSync(path.join(tmpdir(), "package-alone-")), "app");
    cpSync(out, alone, { recursive: true });
    const loaded = startAlone(alone, "package-test-secret-0123456789abcdefghijkl");
    const functions = readdirSync(path.join(ROOT, "functions")).filter((f) => f.endsWith(".ts"));
    // The password-hashing thread, too, runs with nothing but what was packaged.
    const hashed = execFileSync(
      process.execPath,
      [
        "-e",
        `const { Worker } = require("node:worker_threads"); const w = new Worker(${JSON.stringify(path.join(alone, "dist", "password-worker.js"))}, { workerData: { niceness: 0 } }); w.on("message", (m) => { console.log(JSON.stringify(m)); w.terminate(); }); w.postMessage({ op: "hash", password: "p", cost: 4 });`,
      ],
      { cwd: alone, encoding: "utf8" },
    );
    // A weak setting: the functions still register (the host indexes them), and start-up stops the app naming it.
    let refused = "";
    try {
      startAlone(alone, "weak");
    } catch (error) {
      refused = String((error as { stderr: string }).stderr);
    }
    rmSync(path.dirname(alone), { recursive: true, force: true });
    expect(JSON.parse(loaded.trim().split("\n").pop()!)).toMatchObject({ functions: functions.length });
    expect(refused).toMatch(/SECRET_KEY must be at least 32 characters/);
    expect(JSON.parse(hashed)).toMatchObject({ ok: true, result: expect.stringMatching(/^\$2[aby]\$04\$/) });
  });
});

/** Loads a package as the worker does (with only the worker's @azure/functions-core) and runs its app-start hooks. */
function startAlone(app: string, secret: string): string {
  return execFileSync(
    process.execPath,
    ["-r", path.join(ROOT, "bench", "cold-start", "worker-stub.cjs"), path.join(ROOT, "bench", "cold-start", "load-app.cjs"), app],
    {
      cwd: app,
      env: { PATH: process.env.PATH, SECRET_KEY: secret, DATABASE_URL: "postgresql://placeholder.invalid/none" },
      encoding: "utf8",
      stdio: "pipe",
    },
  );
}
