// The real Bicep compiler, for CI and the infra tests.
//   node scripts/bicep.mjs build [outfile]   compiles infra/main.bicep to infra/.build/main.json (git-ignored) or outfile
//   node scripts/bicep.mjs lint    lints infra/main.bicep
//   node scripts/bicep.mjs available   exits 0 when a CLI can be had (else 1, naming what to install)
// Both fail on any error or warning. The CLI is, in order: $BICEP_CLI, `bicep` on PATH, `az bicep`,
// else the NuGet package Azure.Bicep.CommandLine.<platform> restored once by an ordinary
// `dotnet restore` of a throwaway project in ~/.cache/realtime-mail/bicep (its tools/bicep is the CLI).
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const TEMPLATE = path.join(root, "infra", "main.bicep");
export const COMPILED = path.join(root, "infra", ".build", "main.json");
const VERSION = process.env.BICEP_VERSION || "0.49.2";
const CACHE = path.join(process.env.XDG_CACHE_HOME || path.join(homedir(), ".cache"), "realtime-mail", "bicep", VERSION);

const runs = (command, args) => spawnSync(command, args, { stdio: "ignore", shell: process.platform === "win32" }).status === 0;

function nugetRuntime() {
  const os = { linux: "linux", darwin: "osx", win32: "win" }[process.platform];
  const arch = { x64: "x64", arm64: "arm64" }[process.arch];
  if (!os || !arch) throw new Error(`no Bicep CLI package for ${process.platform}-${process.arch}`);
  return `${os}-${arch}`;
}

const nugetId = () => `Azure.Bicep.CommandLine.${nugetRuntime()}`;
/** Where the restored CLI's executable is (or will be). */
const cachedCli = () =>
  path.join(CACHE, "packages", nugetId().toLowerCase(), VERSION, "tools", process.platform === "win32" ? "bicep.exe" : "bicep");

/** Restores the CLI package into the cache folder (once) and returns the path of its executable. */
function restoreFromNuGet() {
  const id = nugetId();
  const packages = path.join(CACHE, "packages");
  const cli = cachedCli();
  if (!existsSync(cli)) {
    mkdirSync(CACHE, { recursive: true });
    // PackageDownload fetches the package without referencing it: nothing is built.
    writeFileSync(
      path.join(CACHE, "bicep-cli.csproj"),
      `<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><TargetFramework>netstandard2.0</TargetFramework></PropertyGroup>
  <ItemGroup><PackageDownload Include="${id}" Version="[${VERSION}]" /></ItemGroup>
</Project>
`,
    );
    console.error(`restoring ${id} ${VERSION} into ${CACHE}`);
    const restore = spawnSync("dotnet", ["restore", "--packages", packages, "--nologo"], {
      cwd: CACHE,
      encoding: "utf8",
      env: { ...process.env, DOTNET_CLI_TELEMETRY_OPTOUT: "1", DOTNET_NOLOGO: "1" },
    });
    if (restore.error || restore.status !== 0) {
      throw new Error(
        `dotnet restore of ${id} ${VERSION} failed (${restore.error?.message ?? `exit ${restore.status}`}):\n${restore.stdout ?? ""}${restore.stderr ?? ""}`,
      );
    }
    if (!existsSync(cli)) throw new Error(`dotnet restore succeeded but ${cli} is missing`);
  }
  if (process.platform !== "win32") chmodSync(cli, 0o755); // NuGet does not keep the executable bit
  return cli;
}

/** What to install so that a Bicep CLI can be had, for a message when none can. */
export const INSTALL_HINT =
  "install the Bicep CLI (https://aka.ms/bicep-install), the Azure CLI (then `az bicep install`), or the .NET SDK (scripts/bicep.mjs then restores the CLI from NuGet)";

/** Whether findBicep() can succeed here without trying a download: a CLI on hand or restored earlier, or dotnet to restore one. */
export function bicepAvailable() {
  if (process.env.BICEP_CLI) return true;
  if (runs("bicep", ["--version"]) || runs("az", ["bicep", "version"])) return true;
  try {
    return existsSync(cachedCli()) || runs("dotnet", ["--version"]);
  } catch {
    return false; // no NuGet package for this platform
  }
}

/** How to run the CLI: the standalone `bicep`, or Azure CLI's `az bicep` (which names the file with --file). */
export function findBicep() {
  if (process.env.BICEP_CLI) return { command: process.env.BICEP_CLI, az: false };
  if (runs("bicep", ["--version"])) return { command: "bicep", az: false };
  if (runs("az", ["bicep", "version"])) return { command: "az", az: true };
  return { command: restoreFromNuGet(), az: false };
}

/** Runs `bicep <verb> <file> [...]`; throws on a non-zero exit or on any diagnostic (error or warning). */
function bicep(cli, verb, file, rest = []) {
  const args = cli.az ? ["bicep", verb, "--file", file, ...rest] : [verb, file, ...rest];
  const result = spawnSync(cli.command, args, { encoding: "utf8", shell: process.platform === "win32" && cli.az });
  const diagnostics = `${result.stdout ?? ""}${result.stderr ?? ""}`.split("\n").filter((line) => /\)\s*:\s*(Error|Warning)\b/.test(line));
  if (result.error || result.status !== 0 || diagnostics.length) {
    throw new Error(
      `${cli.command} ${args.join(" ")} failed (exit ${result.status ?? result.error?.message}):\n${diagnostics.join("\n") || result.stderr}`,
    );
  }
  return result;
}

/** Compiles to infra/.build/main.json, or to `outfile` (tests that compile in parallel each take their own). */
export function build(cli = findBicep(), outfile = COMPILED) {
  mkdirSync(path.dirname(outfile), { recursive: true });
  bicep(cli, "build", TEMPLATE, ["--outfile", outfile]);
  return outfile;
}

export function lint(cli = findBicep()) {
  bicep(cli, "lint", TEMPLATE);
}

export function version(cli = findBicep()) {
  return execFileSync(cli.command, cli.az ? ["bicep", "version"] : ["--version"], {
    encoding: "utf8",
    shell: process.platform === "win32" && cli.az,
  }).trim();
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const command = process.argv[2];
  try {
    if (command === "available") {
      // Exit 0 when a CLI can be had here, else 1 and what to install; downloads nothing.
      if (!bicepAvailable()) {
        console.log(`no Bicep CLI: ${INSTALL_HINT}`);
        process.exit(1);
      }
      console.log("a Bicep CLI can be had");
      process.exit(0);
    }
    const cli = findBicep();
    if (command === "build") {
      const outfile = process.argv[3] ? path.resolve(process.argv[3]) : COMPILED;
      console.log(`${version(cli)}: compiled ${path.relative(process.cwd(), build(cli, outfile))} with no error or warning`);
    } else if (command === "lint") {
      lint(cli);
      console.log(`${version(cli)}: linted ${path.relative(process.cwd(), TEMPLATE)} with no error or warning`);
    } else {
      throw new Error("usage: node scripts/bicep.mjs available|build|lint");
    }
  } catch (error) {
    console.error(error.message);
    process.exit(1);
  }
}
