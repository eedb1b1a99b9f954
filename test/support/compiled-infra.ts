/**
 * The deployment as Azure receives it, for the tests under test/infra/template-*.test.ts:
 * infra/main.bicep compiled by the real Bicep CLI (scripts/bicep.mjs; it installs the CLI if needed)
 * into the ARM JSON that azd sends, and infra/main.parameters.json resolved the way azd resolves it.
 * Compiled once per version of the Bicep files, shared by the files of a run (a compile takes seconds).
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";

import { SETTINGS } from "../../shared/config/settings";

export const ROOT = path.resolve(__dirname, "..", "..");
export const read = (file: string) => readFileSync(path.join(ROOT, file), "utf8");

// ---------------------------------------------------------------- the compiled template

export interface ParameterDefinition {
  type: string;
  defaultValue?: unknown;
  allowedValues?: unknown[];
  minValue?: number;
  maxValue?: number;
  minLength?: number;
  maxLength?: number;
  metadata?: { azd?: { type?: string; config?: { length?: number } } };
}
export interface Resource {
  type: string;
  name: string;
  condition?: string;
  dependsOn?: string[];
  identity?: { type: string; userAssignedIdentities?: Record<string, unknown> };
  sku?: Record<string, unknown>;
  kind?: string;
  tags?: unknown;
  scope?: string;
  properties: Record<string, unknown> & { template?: Template; parameters?: Record<string, { value: unknown }> };
}
export interface Template {
  $schema: string;
  parameters: Record<string, ParameterDefinition>;
  variables?: Record<string, unknown>;
  resources: Resource[];
  outputs: Record<string, { type: string; value: string }>;
}

export const template = compiledTemplate();

export const deployments = template.resources.filter((r) => r.type === "Microsoft.Resources/deployments");
/** A module by its deployment name (`name:` in main.bicep). */
export function module(name: string): { params: Record<string, unknown>; template: Template; dependsOn: string[] } {
  const found = deployments.find((d) => d.name === name);
  if (!found) throw new Error(`no module deployment ${name}`);
  const params = Object.fromEntries(Object.entries(found.properties.parameters ?? {}).map(([k, v]) => [k, simplify(v.value)]));
  return { params, template: found.properties.template as Template, dependsOn: (found.dependsOn ?? []).map(simplify) as string[] };
}

/** An ARM expression with module references shortened to `<module>.outputs.<name>` (values other than strings pass through). */
export function simplify<T>(value: T): T {
  if (typeof value === "string") {
    return value
      .replace(
        /reference\(extensionResourceId\(.*?'Microsoft\.Resources\/deployments', '([\w-]+)'\), '[^']+'\)\.outputs\.(\w+)\.value/g,
        "$1.outputs.$2",
      )
      .replace(/^\[extensionResourceId\(.*'Microsoft\.Resources\/deployments', '([\w-]+)'\)\]$/, "module:$1") as T;
  }
  if (Array.isArray(value)) return value.map(simplify) as T;
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, simplify(v)])) as T;
  return value;
}

/** The top-level arguments of the first call to `fn` in an ARM expression. */
export function args(expression: string, fn: string): string[] {
  const start = expression.indexOf(`${fn}(`);
  if (start < 0) throw new Error(`no ${fn}( in ${expression}`);
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let current = "";
  for (const ch of expression.slice(start + fn.length + 1)) {
    if (ch === "'") quoted = !quoted;
    if (!quoted && ch === "(") depth++;
    if (!quoted && ch === ")" && depth-- === 0) break;
    if (!quoted && depth === 0 && ch === ",") {
      out.push(current.trim());
      current = "";
    } else current += ch;
  }
  out.push(current.trim());
  return out;
}

export const resourcesOf = (t: Template, type: string) => t.resources.filter((r) => r.type === type);
export function one(t: Template, type: string): Resource {
  const found = resourcesOf(t, type);
  if (found.length !== 1) throw new Error(`${found.length} resources of type ${type}`);
  return found[0];
}
export const allModules = () => deployments.map((d) => d.properties.template as Template);
export const everything = JSON.stringify(template);

export const api = module("api");
export const appSettings = (api.params.appSettings as Record<string, string>) ?? {};
export const site = one(api.template, "Microsoft.Web/sites");
export const platformSettingsExpression = one(api.template, "Microsoft.Web/sites/config").properties as unknown as string;
export const platformArgs = args(platformSettingsExpression, "createObject");
export const platformSettings = Object.fromEntries(
  platformArgs.flatMap((arg, i) => (i % 2 === 0 ? [[arg.replace(/'/g, ""), platformArgs[i + 1]]] : [])),
);

/** Settings the platform reads, allowed in app settings besides the app's own. */
export const PLATFORM_SETTINGS = [
  "AzureWebJobsStorage__accountName",
  "AzureWebJobsStorage__credential",
  "AzureWebJobsStorage__clientId",
  "APPLICATIONINSIGHTS_CONNECTION_STRING",
  "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
];
export const KNOWN = new Set<string>([...Object.values(SETTINGS), ...PLATFORM_SETTINGS]);
/** The example local settings: a configuration the app accepts, to vary one setting of. */
export const LOCAL_CONFIG = (JSON.parse(read("local.settings.example.json")) as { Values: Record<string, string> }).Values;

// ---------------------------------------------------------------- the parameters, as azd reads them

export type Env = Record<string, string>;
export interface Resolved {
  values: Record<string, unknown>;
  problems: string[];
}

/**
 * What azd (1.15+, bicep_provider.go loadParameters / ensureParameters) sends for main.parameters.json:
 * the file is parsed as JSON first; then each value's `${VAR}` / `${VAR=default}` is substituted from
 * the azd environment (AZURE_PRINCIPAL_ID from the signed-in principal); a string left empty by an
 * unset variable is dropped (the template default applies); a string for an int or bool parameter
 * becomes a number or boolean; a parameter still missing gets its default, or a generated value
 * when its azd metadata says `generate`. Then ARM's own checks: type, allowed values, bounds.
 */
export function resolveAsAzd(raw: string, env: Env): Resolved {
  const problems: string[] = [];
  const file = JSON.parse(raw) as { parameters: Record<string, { value: unknown }> };
  const supplied: Record<string, unknown> = {};
  for (const [name, { value }] of Object.entries(file.parameters)) {
    const definition = template.parameters[name];
    if (!definition) {
      problems.push(`${name}: not a parameter of the template`);
      continue;
    }
    if (typeof value !== "string") {
      supplied[name] = value;
      continue;
    }
    let unset = false;
    const replaced = value.replace(
      /\$\{([A-Za-z_]\w*)(?:(:?[=-])([^}]*))?\}/g,
      (_all, variable: string, operator: string | undefined, fallback: string | undefined) => {
        const current = env[variable];
        if (current === undefined) unset = true;
        if (operator && (current === undefined || (operator.startsWith(":") && current === ""))) return fallback ?? "";
        return current ?? "";
      },
    );
    if (/\$\{/.test(replaced)) problems.push(`${name}: unsubstituted ${replaced}`);
    if (replaced === "" && unset) continue;
    if (definition.type === "int") {
      if (/^[+-]?\d+$/.test(replaced)) supplied[name] = Number(replaced);
      else problems.push(`${name}: '${replaced}' is not an int`);
    } else if (definition.type === "bool") {
      if (/^(true|false)$/i.test(replaced)) supplied[name] = replaced.toLowerCase() === "true";
      else problems.push(`${name}: '${replaced}' is not a bool`);
    } else supplied[name] = replaced;
  }
  const values: Record<string, unknown> = {};
  for (const [name, definition] of Object.entries(template.parameters)) {
    let value = supplied[name] ?? definition.defaultValue;
    if (value === undefined && definition.metadata?.azd?.type === "generate")
      value = "g".repeat(definition.metadata.azd.config?.length ?? 16);
    if (value === undefined) {
      problems.push(`${name}: required, and neither supplied nor generated`);
      continue;
    }
    const type = definition.type.replace(/^secure/, "");
    if (type === "string" && typeof value !== "string") problems.push(`${name}: ${JSON.stringify(value)} is not a string`);
    if (type === "int" && !Number.isInteger(value)) problems.push(`${name}: ${JSON.stringify(value)} is not an int`);
    if (definition.allowedValues && !definition.allowedValues.includes(value))
      problems.push(`${name}: ${JSON.stringify(value)} is not allowed`);
    if (typeof value === "number" && definition.minValue !== undefined && value < definition.minValue)
      problems.push(`${name}: ${value} < ${definition.minValue}`);
    if (typeof value === "number" && definition.maxValue !== undefined && value > definition.maxValue)
      problems.push(`${name}: ${value} > ${definition.maxValue}`);
    if (typeof value === "string" && definition.minLength !== undefined && value.length < definition.minLength)
      problems.push(`${name}: shorter than ${definition.minLength}`);
    if (typeof value === "string" && definition.maxLength !== undefined && value.length > definition.maxLength)
      problems.push(`${name}: longer than ${definition.maxLength}`);
    values[name] = value;
  }
  problems.push(...templateChecks(values));
  return { values, problems };
}

/**
 * The checks main.bicep makes with fail() while ARM validates the deployment (the test "stops a deployment
 * ..." pins the compiled expressions these stand for): the Web PubSub unit count must be one its tier
 * takes, and POSTGRES_SKU must have a known max_connections.
 */
export function templateChecks(values: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const sku = values.webPubSubSku as string;
  const units = WEBPUBSUB_UNITS[sku];
  if (units && !units.includes(values.webPubSubCapacity as number))
    problems.push(`webPubSubCapacity: ${sku} does not take ${values.webPubSubCapacity} units`);
  if (typeof values.postgresSkuName === "string" && MAX_CONNECTIONS[values.postgresSkuName] === undefined)
    problems.push(`postgresSkuName: no max_connections for ${values.postgresSkuName}`);
  const postgresRegion = (values.postgresLocation as string) || (values.location as string);
  if (!POSTGRES_REGIONS.includes(postgresRegion)) problems.push(`postgresLocation: no PostgreSQL Flexible Server in ${postgresRegion}`);
  return problems;
}

// The template's own tables (main.bicep): max_connections by PostgreSQL size, of which 15 are reserved for
// Azure (concepts-limits), and the unit counts each Web PubSub tier takes.
export const MAX_CONNECTIONS = template.variables!.postgresMaxConnectionsBySku as Record<string, number>;
export const WEBPUBSUB_UNITS = template.variables!.webPubSubUnitsBySku as Record<string, number[]>;
export const POSTGRES_REGIONS = template.variables!.postgresFlexibleServerRegions as string[];
export const RESERVED = 15;
export const MIGRATION_CONNECTIONS = 1; // the one session that holds the migration lock
/** The most connections a deployment opens: old and new instances' pools during a deploy, and the migration lock. */
export const connectionPeak = (maximumInstanceCount: number, dbPoolMax: number) =>
  2 * maximumInstanceCount * dbPoolMax + MIGRATION_CONNECTIONS;

export const PARAMETERS = read("infra/main.parameters.json");
/** What `azd up` has on a fresh clone: the environment name and region it asked for, and who signed in. */
export const FRESH: Env = {
  AZURE_ENV_NAME: "mail-dev",
  AZURE_LOCATION: "eastus2",
  AZURE_PRINCIPAL_ID: "00000000-0000-0000-0000-000000000001",
};
export const defaults = resolveAsAzd(PARAMETERS, FRESH);

/** infra/.build/main-<digest of the Bicep files>.json, compiled by the first process to ask (the others wait). */
function compiledTemplate(): Template {
  const digest = createHash("sha256");
  for (const file of bicepFiles(path.join(ROOT, "infra"))) digest.update(file).update(readFileSync(file));
  const compiled = path.join(ROOT, "infra", ".build", `main-${digest.digest("hex").slice(0, 16)}.json`);
  mkdirSync(path.dirname(compiled), { recursive: true });
  const lock = `${compiled}.lock`;
  const deadline = Date.now() + 300_000;
  while (!existsSync(compiled)) {
    if (tryLock(lock)) {
      try {
        const partial = `${compiled}.${process.pid}`;
        // Throws with Bicep's own message on any error or warning.
        execFileSync(process.execPath, [path.join(ROOT, "scripts/bicep.mjs"), "build", partial], {
          cwd: ROOT,
          encoding: "utf8",
          stdio: ["ignore", "pipe", "inherit"],
        });
        renameSync(partial, compiled);
      } finally {
        rmSync(lock, { force: true, recursive: true });
      }
    } else if (Date.now() > deadline) throw new Error(`${lock} held for 5 minutes by a running process`);
    else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
  }
  return JSON.parse(readFileSync(compiled, "utf8")) as Template;
}

function bicepFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.name !== ".build")
    .flatMap((entry) => {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) return bicepFiles(full);
      return entry.name.endsWith(".bicep") || entry.name === "bicepconfig.json" ? [full] : [];
    })
    .sort();
}

/** Takes the lock directory, or a lock left by a process that no longer runs (a run killed mid-compile). */
function tryLock(lock: string): boolean {
  try {
    mkdirSync(lock);
    writeFileSync(path.join(lock, "pid"), String(process.pid));
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    if (holderAlive(lock)) return false;
    // Two takers at once both compile, each to its own file renamed into place: harmless.
    rmSync(lock, { force: true, recursive: true });
    return tryLock(lock);
  }
}

function holderAlive(lock: string): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(path.join(lock, "pid"), "utf8"));
  } catch {
    return true; // just made, its pid not yet written
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
