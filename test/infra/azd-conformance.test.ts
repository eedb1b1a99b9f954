/**
 * `azd package` / `azd up` as azd runs them for this project, at the oldest release azure.yaml accepts
 * and the newest (test/support/azd-rules.ts re-expresses each rule from azd's source; every case names
 * the file and function it follows). A fresh clone goes through azd's package steps in azd's order,
 * with the prepackage hook run from the script azd writes, as azd starts it on Linux; our azure.yaml,
 * ignore files, staged package and main.parameters.json then go through each rule.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { deflateRawSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import {
  cite,
  deployTargetSource,
  hookInvocation,
  hookSource,
  inRange,
  languageRefusal,
  languageSource,
  NEWEST,
  npmSource,
  OLDEST,
  packageFolder,
  packageFolderSource,
  packageOrderSource,
  packageSteps,
  parametersSource,
  RELEASES,
  remoteBuild,
  remoteBuildSource,
  substituteParameters,
  upOrder,
  upOrderSource,
  zipDeploy,
  zipEntries,
  zipSource,
} from "../support/azd-rules";
import { azureYaml } from "../support/azure-yaml";
import { cloneRepository, ROOT } from "../support/clone";
import { runHookAsAzd } from "../support/run-hook";

const read = (file: string) => readFileSync(path.join(ROOT, file), "utf8");
const yaml = azureYaml(read("azure.yaml"));
const service = yaml.services.api;
const serviceIgnoreFile = existsSync(path.join(ROOT, service.project, ".funcignore"))
  ? read(path.join(service.project, ".funcignore"))
  : null;
const declaredRemoteBuild = service.remoteBuild === undefined ? undefined : service.remoteBuild === "true";
const hooks = { prepackage: service.hooks.prepackage, postdeploy: yaml.hooks.postdeploy };

/** Every file under a folder, relative, with `/`. */
function filesUnder(folder: string, relative = ""): string[] {
  return readdirSync(path.join(folder, relative)).flatMap((name) => {
    const rel = relative ? `${relative}/${name}` : name;
    return statSync(path.join(folder, rel)).isDirectory() ? filesUnder(folder, rel) : [rel];
  });
}
const digest = (folder: string) =>
  Object.fromEntries(
    filesUnder(folder).map((f) => [
      f,
      createHash("sha256")
        .update(readFileSync(path.join(folder, f)))
        .digest("hex"),
    ]),
  );

// One clone, packaged by azd's steps in azd's order (the newest release's; the oldest differs only in
// the restore command's flags, and restore is the linked node_modules here).
let clone = "";
let staged: Record<string, string> = {};
let afterBuild: Record<string, string> = {};
const ran: string[] = [];
beforeAll(() => {
  clone = cloneRepository("azd-conformance-");
  const project = path.join(clone, service.project);
  for (const step of packageSteps(NEWEST)) {
    if (step.kind === "command" && step.argv[1] === "install") ran.push("restore");
    else if (step.kind === "hook" && step.name === "prepackage") {
      runHookAsAzd(
        NEWEST,
        { ...service.hooks.prepackage.posix, posix: service.hooks.prepackage.posix, windows: service.hooks.prepackage.windows },
        "linux",
        project,
        process.env,
      );
      staged = digest(path.join(clone, packageFolder(NEWEST, service)));
      ran.push("prepackage");
    } else if (step.kind === "command") {
      execFileSync(step.argv[0], step.argv.slice(1), { cwd: project, stdio: "pipe" });
      afterBuild = digest(path.join(clone, packageFolder(NEWEST, service)));
      ran.push(step.argv.join(" "));
    } else if (step.kind === "zip") ran.push("zip");
    else ran.push(step.name);
  }
}, 300_000);
afterAll(() => clone && rmSync(clone, { recursive: true, force: true }));

describe("requiredVersions (azure.yaml) and docs/deploy.md agree", () => {
  const range = yaml.requiredVersions.azd;
  const minimum = /^>=\s*(\d+\.\d+\.\d+)$/.exec(range)?.[1];

  it(`${cite("pkg/project/project.go", NEWEST, "Parse")}: the range admits ${OLDEST} and ${NEWEST}, and refuses 1.23.4 (no remoteBuild: a forced remote build)`, () => {
    expect(minimum).toBe(OLDEST);
    for (const release of RELEASES) expect(inRange(range, release), release).toBe(true);
    expect(inRange(range, "1.23.4")).toBe(false);
    expect(inRange(range, "1.15.0")).toBe(false);
  });

  it("docs/deploy.md states the same minimum", () => {
    expect(deploySection()).toContain(`**${minimum} or later**`);
    expect(deploySection()).toContain(`requiredVersions: "${range}"`);
  });
});

/** The size of a deflated zip of a folder, as azd's Go archive/zip writes it (local header, data, descriptor, central entry per file). */
function zipSize(folder: string): number {
  return filesUnder(folder).reduce((sum, f) => {
    const data = readFileSync(path.join(folder, f));
    return sum + 30 + f.length + Math.min(deflateRawSync(data).length, data.length) + 16 + 46 + f.length;
  }, 22);
}

const deploySection = () => read("docs/deploy.md");

describe("docs/deploy.md's account of the package", () => {
  it("states the zipped and unpacked sizes of the staged folder (within 15 %)", () => {
    const folder = path.join(clone, packageFolder(NEWEST, service));
    const mb = (bytes: number) => bytes / 1e6;
    const unpacked = filesUnder(folder).reduce((sum, f) => sum + statSync(path.join(folder, f)).size, 0);
    const stated = /(\d+) files, ([\d.]+) MB \(([\d.]+) MB of it source maps\), \*\*([\d.]+) MB zipped\*\*/.exec(
      deploySection().replace(/\s+/g, " "),
    );
    expect(stated, "docs/deploy.md: '<n> files, <x> MB (<y> MB of it source maps), **<z> MB zipped**'").not.toBeNull();
    const [, files, total, maps, zipped] = stated!.map(Number);
    const close = (actual: number, claimed: number) => Math.abs(actual - claimed) / claimed <= 0.15;
    expect({ zipped: mb(zipSize(folder)), total: mb(unpacked), files: filesUnder(folder).length }).toSatisfy(
      (m: { zipped: number; total: number; files: number }) => close(m.zipped, zipped) && close(m.total, total) && close(m.files, files),
    );
    const sourceMaps = filesUnder(folder)
      .filter((f) => f.endsWith(".map"))
      .reduce((sum, f) => sum + statSync(path.join(folder, f)).size, 0);
    expect(close(mb(sourceMaps), maps), `source maps ${mb(sourceMaps)} MB`).toBe(true);
  });
});

describe.each(RELEASES)("azd %s", (release) => {
  it(`${remoteBuildSource(release)}: no remote build, and no refusal`, () => {
    expect(
      remoteBuild(release, { language: service.language, remoteBuild: declaredRemoteBuild, projectIgnoreFile: serviceIgnoreFile }),
    ).toEqual({ remoteBuild: false });
  });

  it(`${packageFolderSource(release)}: zips ${service.project}/${service.dist}, which the prepackage hook staged`, () => {
    expect(packageFolder(release, service)).toBe(path.join(".", ".deploy"));
    expect(Object.keys(staged).length).toBeGreaterThan(0); // azd stops on an empty package folder
  });

  it(`${zipSource(release)}: reads .funcignore from the zipped folder (there is none), so the zip holds every staged file and nothing else`, () => {
    const folder = path.join(clone, packageFolder(release, service));
    expect(existsSync(path.join(folder, ".funcignore"))).toBe(false);
    const zipped = zipEntries(release, folder, { language: service.language, remoteBuild: declaredRemoteBuild });
    expect(zipped.sort()).toEqual(Object.keys(staged).sort());
    expect(zipped).toEqual(expect.arrayContaining(["host.json", "package.json", "dist/main.mjs", "dist/password-worker.js"]));
    expect(zipped.filter((f) => /node_modules|\.ts$|local\.settings/.test(f))).toEqual([]);
  });

  it(`${packageOrderSource(release)}; ${npmSource(release)}: restore, the prepackage hook, \`npm run build --if-present\`, then the zip; the build after the hook leaves the staged folder as the hook wrote it`, () => {
    const order = packageSteps(release).map((s) =>
      s.kind === "hook" ? s.name : s.kind === "zip" ? "zip" : s.argv.slice(0, s.argv[1] === "install" ? 2 : 3).join(" "),
    );
    expect(order).toEqual(["npm install", "prepackage", "npm run build", "zip", "postpackage"]);
    expect(ran).toEqual(["restore", "prepackage", "npm run build --if-present", "zip", "postpackage"]);
    expect(afterBuild).toEqual(staged);
  });

  it(`${upOrderSource(release)}: the package needs nothing from the provision (it may be built first, or meanwhile), and postdeploy runs after the deploy`, () => {
    const order = upOrder(release);
    expect(order).toEqual(
      expect.arrayContaining([
        ["package", "deploy"],
        ["provision", "deploy"],
        ["deploy", "postdeploy hook"],
      ]),
    );
    expect(order).not.toContainEqual(["provision", "package"]);
    for (const script of ["scripts/package.mjs", "scripts/build.mjs"])
      expect(read(script), script).not.toMatch(/process\.env\.(AZURE_|SERVICE_|API_URL)/);
  });

  it(`${hookSource(release)}: sh on Linux and macOS, pwsh on Windows, inline scripts; prepackage fails the deploy, postdeploy never does`, () => {
    for (const os of ["linux", "darwin", "windows"] as const) {
      for (const [name, hook] of Object.entries(hooks)) {
        const invocation = hookInvocation(release, os, { ...hook.posix, ...hook }, ROOT, os);
        expect(invocation.shell, `${name} on ${os}`).toBe(os === "windows" ? "pwsh" : "sh");
        expect(invocation.continueOnError, name).toBe(name === "postdeploy");
        expect(invocation.content).toContain(`\n${(os === "windows" ? hook.windows : hook.posix).run}\n`);
      }
    }
    expect(hookInvocation(release, "windows", { ...hooks.prepackage.posix, ...hooks.prepackage }, ROOT, "windows").argv).toEqual([
      "cmd.exe",
      "/c",
      "pwsh",
      "SCRIPT",
    ]);
  });

  it(`${parametersSource(release)}: on a fresh environment every parameter resolves, unset optional ones fall back to the template, and the generated secrets are left to azd`, () => {
    const fresh = { AZURE_ENV_NAME: "mail-dev", AZURE_LOCATION: "eastus2" };
    const { values, dropped } = substituteParameters(
      release,
      read("infra/main.parameters.json"),
      fresh,
      "00000000-0000-0000-0000-000000000001",
    );
    expect(JSON.stringify(values)).not.toContain("${");
    expect(values).toMatchObject({
      environmentName: "mail-dev",
      location: "eastus2",
      principalId: "00000000-0000-0000-0000-000000000001",
      webPubSubSku: "Standard_S1",
      maximumInstanceCount: "40",
    });
    // Empty because unset: dropped, so the template's default (or azd's generated value) applies.
    expect(dropped.sort()).toEqual(["allowedOrigins", "jwtSecret", "postgresLocation", "webPubSubEventHandlerKey"]);
    // drone/envsubst takes the word for a variable set to "" too, not only for an unset one.
    expect(
      substituteParameters(release, read("infra/main.parameters.json"), { ...fresh, WEBPUBSUB_SKU: "" }, "p").values.webPubSubSku,
    ).toBe("Standard_S1");
    const declared = new Set([...read("infra/main.bicep").matchAll(/^param (\w+)/gm)].map((m) => m[1]));
    for (const name of [...Object.keys(values), ...dropped]) expect(declared.has(name), name).toBe(true);
  });
});

describe("the rules themselves, on the inputs that broke deploys", () => {
  const old = `${serviceIgnoreFile ?? ""}\n# main is an esbuild bundle that needs no node_modules.\nnode_modules/\n`;

  it(`${remoteBuildSource(NEWEST)}: refuses remoteBuild: false when .funcignore excludes node_modules (azd 1.23.12 and later); ${OLDEST} did not look`, () => {
    expect(remoteBuild(NEWEST, { language: "ts", remoteBuild: false, projectIgnoreFile: old })).toEqual({
      error: "'remoteBuild: false' cannot be used when '.funcignore' excludes node_modules",
    });
    expect(remoteBuild(OLDEST, { language: "ts", remoteBuild: false, projectIgnoreFile: old })).toEqual({ remoteBuild: false });
  });

  it(`${remoteBuildSource("1.23.4")}: before ${OLDEST} TypeScript always built remotely; the staged package.json then gives the platform nothing to install or build`, () => {
    expect(remoteBuild("1.23.4", { language: "ts", remoteBuild: false, projectIgnoreFile: serviceIgnoreFile })).toEqual({
      remoteBuild: true,
    });
    const pkg = JSON.parse(readFileSync(path.join(clone, packageFolder(NEWEST, service), "package.json"), "utf8")) as Record<
      string,
      unknown
    >;
    expect(Object.keys(pkg).sort()).toEqual(["main", "name", "type", "version"]);
  });

  it(`${zipSource(OLDEST)} drops any path a pattern matches, a ! negation included; ${zipSource(NEWEST)} keeps a negated one`, () => {
    const folder = mkdtempSync(path.join(tmpdir(), "zip-rule-"));
    writeFileSync(path.join(folder, ".funcignore"), "*.ts\n!keep.d.ts\n");
    for (const f of ["a.ts", "keep.d.ts", "b.js", "local.settings.json"]) writeFileSync(path.join(folder, f), "");
    try {
      expect(zipEntries(OLDEST, folder, { language: "ts" })).toEqual(["b.js"]);
      expect(zipEntries(NEWEST, folder, { language: "ts" })).toEqual(["b.js", "keep.d.ts"]);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it(`${remoteBuildSource("1.23.13")} strips a UTF-8 BOM from .funcignore (stripUTF8BOM); ${remoteBuildSource("1.23.12")} parses it, so the first pattern matches nothing`, () => {
    const bom = "\uFEFFnode_modules\n";
    expect(remoteBuild("1.23.12", { language: "ts", remoteBuild: false, projectIgnoreFile: bom })).toEqual({ remoteBuild: false });
    expect(remoteBuild("1.23.12", { language: "ts", projectIgnoreFile: bom })).toEqual({ remoteBuild: false });
    expect(remoteBuild("1.23.13", { language: "ts", remoteBuild: false, projectIgnoreFile: bom })).toEqual({
      error: "'remoteBuild: false' cannot be used when '.funcignore' excludes node_modules",
    });
    expect(remoteBuild(NEWEST, { language: "ts", projectIgnoreFile: bom })).toEqual({ remoteBuild: true });
    // Only the first line carries the BOM: the lines after it count at every release.
    expect(remoteBuild("1.23.12", { language: "ts", projectIgnoreFile: "\uFEFF# staged\nnode_modules\n" })).toEqual({ remoteBuild: true });
  });

  it(`${zipSource("1.23.13")} strips the BOM before matching; ${zipSource("1.23.12")} zips what the BOM-prefixed first pattern names`, () => {
    const folder = mkdtempSync(path.join(tmpdir(), "zip-bom-"));
    writeFileSync(path.join(folder, ".funcignore"), "\uFEFF*.ts\n*.map\n");
    for (const f of ["a.ts", "a.js", "a.js.map"]) writeFileSync(path.join(folder, f), "");
    try {
      expect(zipEntries("1.23.12", folder, { language: "ts" })).toEqual(["a.js", "a.ts"]);
      expect(zipEntries("1.23.13", folder, { language: "ts" })).toEqual(["a.js"]);
      expect(zipEntries(NEWEST, folder, { language: "ts" })).toEqual(["a.js"]);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  for (const release of RELEASES)
    it(`${languageSource(release)}: only js and ts are Node languages; \`typescript\` and \`javascript\` are refused`, () => {
      expect(languageRefusal(release, service.language)).toBeNull();
      for (const language of ["js", "ts", "python", "py", "docker"]) expect(languageRefusal(release, language), language).toBeNull();
      for (const language of ["typescript", "javascript", "node"])
        expect(languageRefusal(release, language)).toBe(
          `language '${language}' is not supported by built-in framework services and no extensions are currently providing it`,
        );
      // Were a name other than js/ts to get through, it would not take the Node remote-build rules (no .funcignore check).
      expect(remoteBuild(release, { language: "typescript", remoteBuild: false, projectIgnoreFile: "node_modules\n" })).toEqual({
        remoteBuild: false,
      });
      // 1.23.12 and later check .funcignore for js and ts only.
      if (release === NEWEST)
        expect(remoteBuild(release, { language: "ts", remoteBuild: false, projectIgnoreFile: "node_modules\n" })).toHaveProperty("error");
    });

  for (const release of RELEASES)
    it(`${deployTargetSource(release)}: remoteBuild on a plan other than Flex Consumption is refused; our service on Flex Consumption is not`, () => {
      const ours = { name: "api", language: service.language, remoteBuild: declaredRemoteBuild, projectIgnoreFile: serviceIgnoreFile };
      expect(zipDeploy(release, { planTier: "FlexConsumption", isContainer: false }, ours, "func-api")).toEqual({ remoteBuild: false });
      for (const planTier of ["Dynamic", "ElasticPremium", "Basic"]) {
        expect(zipDeploy(release, { planTier, isContainer: false }, { ...ours, remoteBuild: false }, "func-api"), planTier).toEqual({
          error: "'remoteBuild' is only supported for Flex Consumption plan function apps",
        });
        expect(zipDeploy(release, { planTier, isContainer: false }, { ...ours, remoteBuild: undefined }, "func-api")).toEqual({
          remoteBuild: false,
        });
      }
      expect(zipDeploy(release, { planTier: "flexconsumption", isContainer: false }, ours, "func-api")).toEqual({ remoteBuild: false });
    });

  it(`${deployTargetSource("1.30.0")}: a zip deploy to a container site is refused before the upload from 1.30.0; ${deployTargetSource("1.29.0")} uploaded it`, () => {
    const ours = { name: "api", language: "ts", remoteBuild: false, projectIgnoreFile: null };
    const container = { planTier: "ElasticPremium", isContainer: true };
    const refused = {
      error: "function app 'func-api' is configured for container deployment, but service 'api' is configured for zip deployment",
    };
    expect(zipDeploy("1.30.0", container, ours, "func-api")).toEqual(refused);
    expect(zipDeploy(NEWEST, container, ours, "func-api")).toEqual(refused);
    expect(zipDeploy("1.29.0", container, { ...ours, remoteBuild: undefined }, "func-api")).toEqual({ remoteBuild: false });
    expect(zipDeploy(OLDEST, container, ours, "func-api")).toEqual({
      error: "'remoteBuild' is only supported for Flex Consumption plan function apps",
    });
  });

  for (const release of RELEASES)
    it(`${hookSource(release)}: without pwsh, a Windows host runs pwsh hooks with powershell.exe; Linux and macOS refuse`, () => {
      const hook = { ...hooks.prepackage.posix, ...hooks.prepackage };
      const noPwsh = { pwsh: false, powershell: true };
      expect(hookInvocation(release, "windows", hook, ROOT, "windows", noPwsh).argv).toEqual(["cmd.exe", "/c", "powershell", "SCRIPT"]);
      expect(hookInvocation(release, "windows", hook, ROOT, "windows").argv).toEqual(["cmd.exe", "/c", "pwsh", "SCRIPT"]);
      const reworded = release === NEWEST;
      expect(() => hookInvocation(release, "windows", hook, ROOT, "windows", { pwsh: false, powershell: false })).toThrow(
        reworded ? "neither pwsh nor powershell found in PATH" : "executable file not found in %PATH%",
      );
      expect(() => hookInvocation(release, "windows", hook, ROOT, "linux", noPwsh)).toThrow(
        reworded ? "pwsh not found in PATH" : "executable file not found in $PATH",
      );
      // sh hooks never look for PowerShell.
      expect(hookInvocation(release, "linux", hook, ROOT, "linux", { pwsh: false, powershell: false }).shell).toBe("sh");
    });
});
