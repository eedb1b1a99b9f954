/**
 * The Windows hooks of azure.yaml under PowerShell 7, as azd runs them: the script azd's pwsh wrapper
 * writes (test/support/azd-rules.ts hookInvocation) started by pwsh. CI installs pwsh (a dotnet tool) and
 * runs this with CI set; elsewhere it runs when pwsh is on PATH, and reports itself skipped otherwise.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { NEWEST, RELEASES } from "../support/azd-rules";
import { azureYaml } from "../support/azure-yaml";
import { cloneRepository, ROOT } from "../support/clone";
import { PWSH, skipWithout } from "../support/needs-tool";
import { runHookAsAzd, runHookAsAzdAsync } from "../support/run-hook";

const skip = skipWithout(PWSH, "test/infra/azd-hooks-pwsh.test.ts");

const yaml = azureYaml(readFileSync(path.join(ROOT, "azure.yaml"), "utf8"));
const prepackage = yaml.services.api.hooks.prepackage;
const postdeploy = yaml.hooks.postdeploy;

describe.skipIf(skip)("the Windows hooks under PowerShell 7, as azd's pwsh wrapper runs them", () => {
  let clone = "";
  let server: Server | undefined;
  beforeAll(() => {
    if (PWSH.missing()) throw new Error(`CI is set and ${PWSH.missing()}`);
    clone = cloneRepository("azd-pwsh-");
  });
  afterAll(() => {
    server?.close();
    if (clone) rmSync(clone, { recursive: true, force: true });
  });

  it("runs PowerShell 7", () => {
    const version = spawnSync("pwsh", ["-NoLogo", "-NoProfile", "-Command", "$PSVersionTable.PSVersion.ToString()"], { encoding: "utf8" });
    expect(version.stdout.trim()).toMatch(/^7\./);
  });

  it(`prepackage stages the package (azd ${NEWEST})`, () => {
    const project = path.join(clone, yaml.services.api.project);
    runHookAsAzd(NEWEST, { ...prepackage.windows, ...prepackage }, "windows", project, process.env);
    const staged = path.join(project, yaml.services.api.dist);
    expect(readdirSync(staged).sort()).toEqual(["dist", "host.json", "package.json"]);
    expect(existsSync(path.join(staged, "dist", "main.mjs"))).toBe(true);
  }, 300_000);

  it("a failing command fails the hook (the wrapper exits with $LASTEXITCODE), so continueOnError: false stops the deploy", () => {
    let status: unknown;
    try {
      runHookAsAzd(NEWEST, { shell: "pwsh", run: 'node -e "process.exit(3)"' }, "windows", clone, process.env);
    } catch (error) {
      status = (error as { status: number }).status;
    }
    expect(status).toBe(3);
  });

  it.each(RELEASES)("postdeploy reports the API up (azd %s)", async (release) => {
    server ??= await new Promise<Server>((resolve) => {
      const s = createServer((req, res) => res.writeHead(req.url === "/health" ? 200 : 404).end("{}"));
      s.listen(0, "127.0.0.1", () => resolve(s));
    });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const out = await runHookAsAzdAsync(release, { ...postdeploy.windows, ...postdeploy }, "windows", ROOT, {
      ...process.env,
      SERVICE_API_URI: url,
    });
    expect(out).toContain(`API is up, schema current: ${url}`);
  });
});
