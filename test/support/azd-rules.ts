/**
 * The decisions azd makes for this project, re-expressed from azd's own source (Azure/azure-dev) so
 * tests can run our azure.yaml, ignore files and staged package through them. Each rule takes the
 * release it follows; every rule names the file and function it comes from with `cite()`.
 * Read at the tags azure-dev-cli_1.23.5 (the oldest release azure.yaml accepts) and
 * azure-dev-cli_1.31.2 (the newest), and at the releases where a rule changed (1.23.12, 1.23.13, 1.23.15,
 * 1.30.0).
 */
import { existsSync, lstatSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import ignore from "ignore";

export const OLDEST = "1.23.5";
export const NEWEST = "1.31.2";
export const RELEASES = [OLDEST, NEWEST] as const;

/** `file@tag: function`, the source a rule re-expresses. */
export const cite = (file: string, release: string, fn: string) => `cli/azd/${file}@azure-dev-cli_${release}: ${fn}`;

const parse = (version: string) => version.split(/[.-]/).slice(0, 3).map(Number);
/** Negative, zero or positive as release a is older than, the same as or newer than b (major.minor.patch). */
export function compareReleases(a: string, b: string): number {
  const [x, y] = [parse(a), parse(b)];
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return 0;
}

// ---------------------------------------------------------------- requiredVersions

/**
 * pkg/project/project.go Parse: `semver.ParseRange(requiredVersions.azd)` (github.com/blang/semver/v4), then
 * refuses to run outside it. Ranges: comparisons joined by spaces (all must hold) or `||` (either);
 * blang lets a space follow the operator (`>= 1.2.3`).
 */
export function inRange(range: string, version: string): boolean {
  return range.split("||").some((alternative) => {
    const comparisons = alternative
      .trim()
      .replace(/(>=|<=|!=|==|>|<|=)\s+/g, "$1")
      .split(/\s+/);
    return comparisons.every((comparison) => {
      const match = /^(>=|<=|!=|==|>|<|=)?(\d+\.\d+\.\d+(?:-[\w.]+)?)$/.exec(comparison);
      if (!match) throw new Error(`${range} is not a valid semver range (for requiredVersions.azd)`);
      const order = compareReleases(version, match[2]);
      return {
        ">=": order >= 0,
        "<=": order <= 0,
        ">": order > 0,
        "<": order < 0,
        "!=": order !== 0,
        "==": order === 0,
        "=": order === 0,
        "": order === 0,
      }[match[1] ?? ""];
    });
  });
}

// ---------------------------------------------------------------- remote build on Flex Consumption

export interface FunctionService {
  language: string;
  /** azure.yaml `remoteBuild`, absent when not set. */
  remoteBuild?: boolean;
  /** The service folder's `.funcignore` (azure.yaml `project`), null when there is none. */
  projectIgnoreFile: string | null;
}
export type RemoteBuildDecision = { remoteBuild: boolean } | { error: string };

/**
 * pkg/project/framework_service.go: ServiceLanguageJavaScript is "js" and ServiceLanguageTypeScript "ts";
 * parseServiceLanguage aliases only "py" (and, later, "golang"), so `language: typescript` stays
 * "typescript", which no framework service is registered under (see languageRefusal).
 */
const NODE_LANGUAGES = ["js", "ts"];

/** The releases that strip a UTF-8 byte order mark from `.funcignore` before parsing it (stripUTF8BOM, added in 1.23.13). */
const stripsBom = (release: string) => compareReleases(release, "1.23.13") >= 0;
/**
 * `.funcignore` as go-gitignore sees it. Before 1.23.13 a BOM stays in the file, so its first line
 * becomes a pattern that begins with invisible bytes and matches no path (a `#` or `!` after the BOM
 * loses its meaning too): the line counts for nothing. The `ignore` package would strip the BOM
 * itself, so that line is dropped here instead.
 */
function ignoreFileAsParsed(release: string, text: string): string {
  if (!text.startsWith("\uFEFF")) return text;
  return stripsBom(release) ? text.slice(1) : text.slice(text.indexOf("\n") + 1 || text.length);
}

export const languageSource = (release: string) =>
  `${cite("pkg/project/framework_service.go", release, "parseServiceLanguage")}; ${cite("pkg/project/service_manager.go", release, "(*serviceManager).GetFrameworkService")}; ${cite("cmd/container.go", release, "registerCommonDependencies")}`;

/**
 * The languages azd builds itself (the framework services cmd/container.go registers by name, the same
 * at both ends of the range, `go` from 1.26.0 aside); any other name is refused when the service is first
 * used, unless an extension provides it (none here).
 */
const FRAMEWORK_LANGUAGES = ["", "dotnet", "csharp", "fsharp", "js", "ts", "python", "java", "docker", "swa", "custom"];
export function languageRefusal(release: string, language: string): string | null {
  const go = compareReleases(release, "1.26.0") >= 0;
  const parsed = language === "py" ? "python" : go && language === "golang" ? "go" : language;
  const known = [...FRAMEWORK_LANGUAGES, ...(go ? ["go"] : [])];
  if (known.includes(parsed)) return null;
  return `language '${parsed}' is not supported by built-in framework services and no extensions are currently providing it`;
}

export function remoteBuildSource(release: string): string {
  return compareReleases(release, "1.23.12") >= 0
    ? cite("pkg/project/service_target_functionapp.go", release, "resolveFunctionAppRemoteBuild")
    : cite("pkg/project/service_target_functionapp.go", release, "(*functionAppTarget).Deploy");
}

/** Whether azd asks Flex Consumption to build the uploaded package (npm install, npm run build) after the upload. */
export function remoteBuild(release: string, service: FunctionService): RemoteBuildDecision {
  const node = NODE_LANGUAGES.includes(service.language);
  const byLanguage = node || service.language === "python" || service.language === "py";
  // Before 1.23.5 azure.yaml had no remoteBuild: JavaScript, TypeScript and Python always built remotely.
  if (compareReleases(release, "1.23.5") < 0) return { remoteBuild: byLanguage };
  if (compareReleases(release, "1.23.12") < 0) return { remoteBuild: service.remoteBuild ?? byLanguage };
  if (!node) return { remoteBuild: service.remoteBuild ?? (service.language === "python" || service.language === "py") };
  if (service.projectIgnoreFile === null) return { remoteBuild: service.remoteBuild ?? true };
  const nodeModulesExcluded = ignore().add(ignoreFileAsParsed(release, service.projectIgnoreFile)).ignores("node_modules/");
  if (service.remoteBuild === undefined) return { remoteBuild: nodeModulesExcluded };
  if (service.remoteBuild && !nodeModulesExcluded) return { error: "'remoteBuild: true' requires '.funcignore' to exclude node_modules" };
  if (!service.remoteBuild && nodeModulesExcluded)
    return { error: "'remoteBuild: false' cannot be used when '.funcignore' excludes node_modules" };
  return { remoteBuild: service.remoteBuild };
}

// ---------------------------------------------------------------- what the deploy refuses before uploading

export const deployTargetSource = (release: string) =>
  compareReleases(release, "1.30.0") >= 0
    ? cite("pkg/project/service_target_functionapp.go", release, "(*functionAppTarget).Deploy, zipDeploy")
    : cite("pkg/project/service_target_functionapp.go", release, "(*functionAppTarget).Deploy");

/** The function app as azd reads it before a code (zip) deploy: its plan's SKU tier and whether the site runs a container. */
export interface FunctionAppSite {
  planTier: string;
  /** A Linux site whose linuxFxVersion is `DOCKER|<image>`. */
  isContainer: boolean;
}

/**
 * A zip deploy of a code service: from 1.30.0 a container site is refused before anything is uploaded (a
 * zip deployed to one left the deployment API polling indefinitely; earlier releases upload and wait);
 * then `remoteBuild` set at all (true or false) on a plan other than Flex Consumption (tier compared
 * case-insensitively) is refused, at both ends of the range; on Flex Consumption remoteBuild() decides.
 */
export function zipDeploy(
  release: string,
  site: FunctionAppSite,
  service: FunctionService & { name: string },
  appName: string,
): RemoteBuildDecision {
  if (compareReleases(release, "1.30.0") >= 0 && site.isContainer)
    return {
      error: `function app '${appName}' is configured for container deployment, but service '${service.name}' is configured for zip deployment`,
    };
  const flexConsumption = site.planTier.toLowerCase() === "flexconsumption";
  if (service.remoteBuild !== undefined && !flexConsumption)
    return { error: "'remoteBuild' is only supported for Flex Consumption plan function apps" };
  // Other plans take the zip as it is (DeployFunctionAppUsingZipFileRegular): no build flag is sent.
  return flexConsumption ? remoteBuild(release, service) : { remoteBuild: false };
}

// ---------------------------------------------------------------- which folder is zipped, and what goes in

/** The folder the framework's Package step hands to the function app target: `project` joined with `dist`. */
export function packageFolder(release: string, service: { project: string; dist?: string }): string {
  void release; // the same at both ends of the range
  return service.dist ? path.join(service.project, service.dist) : service.project;
}
export const packageFolderSource = (release: string) =>
  compareReleases(release, "1.23.7") < 0
    ? cite("pkg/project/framework_service_npm.go", release, "(*npmProject).Package")
    : cite("pkg/project/framework_service_node.go", release, "(*nodeProject).Package");

export const zipSource = (release: string) => cite("pkg/project/project_utils.go", release, "createDeployableZip");

/**
 * The files createDeployableZip puts in the zip of `folder`: it reads `.funcignore` from that folder
 * (never the service folder), leaves out the ignore file itself, `.azure/` and local.settings.json,
 * and, without an ignore file, node_modules/ (from 1.23.12: unless remoteBuild is false). Until 1.23.12
 * any pattern that matches a path drops it, a `!` negation included; from 1.23.13 only a match that ignores.
 */
export function zipEntries(release: string, folder: string, service: { language: string; remoteBuild?: boolean }): string[] {
  const ignoreFile = path.join(folder, ".funcignore");
  const matcher = existsSync(ignoreFile) ? ignore().add(ignoreFileAsParsed(release, readFileSync(ignoreFile, "utf8"))) : null;
  const matchAnyCounts = compareReleases(release, "1.23.13") < 0;
  const entries: string[] = [];
  const visit = (relative: string) => {
    for (const name of readdirSync(path.join(folder, relative)).sort()) {
      const rel = relative ? `${relative}/${name}` : name;
      const full = path.join(folder, rel);
      const isDir = lstatSync(full).isSymbolicLink() ? statSync(full).isDirectory() : lstatSync(full).isDirectory();
      if (isDir && name === ".azure") continue;
      if (!isDir && (name === ".funcignore" || name === "local.settings.json")) continue;
      const key = isDir ? `${rel}/` : rel;
      if (matcher) {
        const { ignored, unignored } = matcher.test(key);
        if (ignored || (matchAnyCounts && unignored)) continue;
      } else if (isDir && name === "node_modules" && NODE_LANGUAGES.includes(service.language)) {
        const keptForLocalBuild = compareReleases(release, "1.23.12") >= 0 && service.remoteBuild === false;
        if (!keptForLocalBuild) continue;
      }
      if (isDir) visit(rel);
      else entries.push(rel);
    }
  };
  visit("");
  return entries;
}

// ---------------------------------------------------------------- what runs, in which order

export const npmSource = (release: string) =>
  compareReleases(release, "1.23.7") < 0
    ? cite("pkg/tools/npm/npm.go", release, "(*Cli).Install, (*Cli).RunScript")
    : cite("pkg/tools/node/node.go", release, "(*npmCli).Install, (*npmCli).RunScript");
export const packageOrderSource = (release: string) => cite("pkg/project/service_manager.go", release, "(*serviceManager).Package");

export type Step =
  { kind: "command"; cwd: "project"; argv: string[] } | { kind: "hook"; name: string } | { kind: "zip"; folder: "package" };

/**
 * `azd package` for one npm service: Restore (the framework requires it before packaging), then the
 * package event, whose prehook runs before the framework's Package (`npm run build --if-present`,
 * not `npm run package`) and the target's Package (the zip); the framework's Build is not required.
 * From 1.23.7 the install is skipped when node_modules is up to date with the lock file.
 */
export function packageSteps(release: string): Step[] {
  const install =
    compareReleases(release, "1.23.7") < 0 ? ["npm", "install"] : ["npm", "install", "--no-audit", "--no-fund", "--prefer-offline"];
  return [
    { kind: "command", cwd: "project", argv: install },
    { kind: "hook", name: "prepackage" },
    { kind: "command", cwd: "project", argv: ["npm", "run", "build", "--if-present"] },
    { kind: "zip", folder: "package" },
    { kind: "hook", name: "postpackage" },
  ];
}

/** `azd up`: which phases must finish before which (a pair [before, after] for each ordering azd guarantees). */
export function upOrder(release: string): [string, string][] {
  const deploy: [string, string][] = [
    ["package", "deploy"],
    ["provision", "deploy"],
    ["deploy", "postdeploy hook"],
  ];
  // Before 1.25 `azd up` runs `azd package --all`, `azd provision`, `azd deploy --all` one after another; the unified
  // graph of later releases may package while it provisions.
  return compareReleases(release, "1.25.0") < 0 ? [["package", "provision"], ...deploy] : deploy;
}
export const upOrderSource = (release: string) =>
  compareReleases(release, "1.25.0") < 0
    ? cite("cmd/up.go", release, "defaultUpWorkflow")
    : cite("internal/cmd/up_graph.go", release, "(*UpGraphAction).Run");

// ---------------------------------------------------------------- hooks: shell per OS, and the script azd writes

export interface HookConfig {
  shell?: string;
  run: string;
  continueOnError?: string;
  posix?: HookConfig;
  windows?: HookConfig;
}
export type HostOs = "windows" | "linux" | "darwin";

export const hookSource = (release: string) =>
  compareReleases(release, "1.23.15") < 0
    ? `${cite("pkg/ext/hooks_manager.go", release, "(*HooksManager).filterConfigs")}; ${cite("pkg/ext/models.go", release, "(*HookConfig).validate, createTempScript")}; ${cite("pkg/tools/powershell/powershell.go", release, "(*powershellScript).Execute")}; ${cite("pkg/exec/command_runner.go", release, "newCmdTree, ToolInPath")}`
    : `${cite("pkg/ext/hooks_manager.go", release, "(*HooksManager).filterConfigs")}; ${cite("pkg/tools/powershell/powershell.go", release, "(*powershellExecutor).Prepare, resolvePowerShell, Execute")}; ${cite("pkg/tools/bash/bash.go", release, "(*bashExecutor).Prepare, Execute")}; ${cite("pkg/exec/command_runner.go", release, "newCmdTree")}`;

export interface HookInvocation {
  shell: "sh" | "pwsh";
  /** The temporary script azd writes (inline `run`), extension included. */
  extension: ".sh" | ".ps1";
  content: string;
  /** How azd starts it: argv, with SCRIPT for the script's path. */
  argv: string[];
  continueOnError: boolean;
}

/** Which PowerShell executables the host's PATH holds (azd looks them up with exec.LookPath). */
export interface PowerShellOnPath {
  pwsh: boolean;
  powershell: boolean;
}

/**
 * Which executable runs a pwsh hook: pwsh when it is on PATH; else, on a Windows host only,
 * powershell (Windows PowerShell 5, powershell.exe); else azd refuses with this error. The same rule at
 * both ends of the range (before 1.23.15 in (*powershellScript).Execute, from it in
 * (*powershellExecutor).resolvePowerShell); only the messages changed.
 */
export function powerShellCommand(release: string, host: HostOs, onPath: PowerShellOnPath): "pwsh" | "powershell" {
  if (onPath.pwsh) return "pwsh";
  const reworded = compareReleases(release, "1.23.15") >= 0;
  // Before 1.23.15 the error is exec.ErrNotFound itself, as Go spells it on each OS.
  if (host !== "windows") throw new Error(reworded ? "pwsh not found in PATH" : "executable file not found in $PATH");
  if (onPath.powershell) return "powershell";
  throw new Error(reworded ? "neither pwsh nor powershell found in PATH" : "executable file not found in %PATH%");
}

/**
 * On Windows the hook's `windows` block, on Linux and macOS its `posix` block, else the hook itself; an
 * inline `run` (not a file under the hook's folder) goes into a temporary script for the hook's shell
 * (default: pwsh on Windows, sh elsewhere), run with the command runner's shell: `cmd.exe /c pwsh SCRIPT`
 * on Windows, `/bin/sh -c 'pwsh "$0"' SCRIPT` elsewhere (powerShellCommand picks pwsh or its Windows
 * fallback); an sh script runs as `/bin/sh -c SCRIPT` (by its #! line), or `bash SCRIPT` through cmd.exe
 * on Windows. `os` picks the block, `host` the runner (to run a Windows block's script under pwsh on
 * Linux, as CI does).
 */
export function hookInvocation(
  release: string,
  os: HostOs,
  hook: HookConfig,
  cwd: string,
  host: HostOs = os,
  onPath: PowerShellOnPath = { pwsh: true, powershell: true },
): HookInvocation {
  const chosen = (os === "windows" ? hook.windows : hook.posix) ?? hook;
  if (existsSync(path.join(cwd, chosen.run)) && statSync(path.join(cwd, chosen.run)).isFile())
    throw new Error(`${chosen.run}: a script file, not an inline command (not modelled)`);
  const shell = (chosen.shell ?? (os === "windows" ? "pwsh" : "sh")).split(" ")[0];
  if (shell !== "sh" && shell !== "pwsh") throw new Error(`hook shell ${shell}: azd knows sh and pwsh`);
  const continueOnError = chosen.continueOnError === "true";
  if (shell === "pwsh") {
    const content = `$ErrorActionPreference = 'Stop'\n\n# Auto generated file from Azure Developer CLI\n${chosen.run}\nif ((Test-Path -LiteralPath variable:\\LASTEXITCODE)) { exit $LASTEXITCODE }\n`;
    const command = powerShellCommand(release, host, onPath);
    const argv = host === "windows" ? ["cmd.exe", "/c", command, "SCRIPT"] : ["/bin/sh", "-c", `${command} "$0"`, "SCRIPT"];
    return { shell, extension: ".ps1", content, argv, continueOnError };
  }
  const content = `#!/bin/sh\nset -e\n\n# Auto generated file from Azure Developer CLI\n${chosen.run}\n`;
  const argv = host === "windows" ? ["cmd.exe", "/c", "bash", "SCRIPT"] : ["/bin/sh", "-c", "SCRIPT"];
  return { shell, extension: ".sh", content, argv, continueOnError };
}

// ---------------------------------------------------------------- main.parameters.json

export const parametersSource = (release: string) =>
  `${cite("pkg/infra/provisioning/bicep/bicep_provider.go", release, "(*BicepProvider).loadParameters, evalParamEnvSubst")}; github.com/drone/envsubst v1.0.3 template.go: lookupFunc`;

/**
 * loadParameters: each parameter `{"value": ...}` is written back to JSON text, substituted with
 * drone/envsubst (`${NAME}`, and `${NAME=word}` or any other operator: word when the value is empty,
 * unset or set to ""), and parsed again; a value left "" when a variable was unset is dropped (the
 * template default applies). AZURE_PRINCIPAL_ID comes from the signed-in principal, not the environment.
 * Object and array parameters (none here) take another path.
 */
export function substituteParameters(
  release: string,
  file: string,
  env: Record<string, string>,
  principalId: string,
): { values: Record<string, unknown>; dropped: string[] } {
  void release; // the same at both ends of the range (1.31.2 adds only virtual variables, unused here)
  const parsed = JSON.parse(file) as { parameters: Record<string, { value?: unknown }> };
  const values: Record<string, unknown> = {};
  const dropped: string[] = [];
  for (const [name, parameter] of Object.entries(parsed.parameters)) {
    let unset = false;
    const text = JSON.stringify(parameter).replace(
      /\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:=|:-|:\?|:\+|=|-|\+)([^}]*))?\}/g,
      (_all, variable: string, operator?: string, word?: string) => {
        let value = variable === "AZURE_PRINCIPAL_ID" ? principalId : env[variable];
        if (value === undefined && variable !== "AZURE_PRINCIPAL_ID") unset = true;
        value ??= "";
        return operator !== undefined && value === "" ? (word ?? "") : value;
      },
    );
    const resolved = JSON.parse(text) as { value?: unknown };
    if (resolved.value === undefined || (resolved.value === "" && unset)) {
      dropped.push(name);
      continue;
    }
    values[name] = resolved.value;
  }
  return { values, dropped };
}
