/**
 * Loaded by test/infra/infra.test.ts when a Bicep CLI can be had (or CI is set).
 * The deployment as Azure receives it: infra/main.bicep compiled by the real Bicep CLI
 * (scripts/bicep.mjs; it installs the CLI if needed, and this suite fails if it cannot) into the ARM
 * JSON that azd sends, and infra/main.parameters.json resolved the way azd resolves it. Checks read
 * the compiled resources, properties, dependsOn and outputs, never the Bicep text.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

import { EVENTS_ROUTE } from "../../functions/webpubsub-events";
import { DEFAULT_HUB, MIN_SECRET_LENGTH, parseConfig } from "../../shared/config/config";
import { SETTINGS } from "../../shared/config/settings";
import { EVENT_HANDLER_KEY_PARAM } from "../../shared/realtime/event-caller";

const ROOT = path.resolve(__dirname, "..", "..");
const read = (file: string) => readFileSync(path.join(ROOT, file), "utf8");

// ---------------------------------------------------------------- the compiled template

interface ParameterDefinition {
  type: string;
  defaultValue?: unknown;
  allowedValues?: unknown[];
  minValue?: number;
  maxValue?: number;
  minLength?: number;
  maxLength?: number;
  metadata?: { azd?: { type?: string; config?: { length?: number } } };
}
interface Resource {
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
interface Template {
  $schema: string;
  parameters: Record<string, ParameterDefinition>;
  variables?: Record<string, unknown>;
  resources: Resource[];
  outputs: Record<string, { type: string; value: string }>;
}

// Compiles now (the CLI is installed on first use); throws with Bicep's own message on any error or warning.
execFileSync(process.execPath, [path.join(ROOT, "scripts/bicep.mjs"), "build"], {
  cwd: ROOT,
  encoding: "utf8",
  stdio: ["ignore", "pipe", "inherit"],
});
const template = JSON.parse(read("infra/.build/main.json")) as Template;

const deployments = template.resources.filter((r) => r.type === "Microsoft.Resources/deployments");
/** A module by its deployment name (`name:` in main.bicep). */
function module(name: string): { params: Record<string, unknown>; template: Template; dependsOn: string[] } {
  const found = deployments.find((d) => d.name === name);
  if (!found) throw new Error(`no module deployment ${name}`);
  const params = Object.fromEntries(Object.entries(found.properties.parameters ?? {}).map(([k, v]) => [k, simplify(v.value)]));
  return { params, template: found.properties.template as Template, dependsOn: (found.dependsOn ?? []).map(simplify) as string[] };
}

/** An ARM expression with module references shortened to `<module>.outputs.<name>` (values other than strings pass through). */
function simplify<T>(value: T): T {
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
function args(expression: string, fn: string): string[] {
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

const resourcesOf = (t: Template, type: string) => t.resources.filter((r) => r.type === type);
function one(t: Template, type: string): Resource {
  const found = resourcesOf(t, type);
  if (found.length !== 1) throw new Error(`${found.length} resources of type ${type}`);
  return found[0];
}
const allModules = () => deployments.map((d) => d.properties.template as Template);
const everything = JSON.stringify(template);

const api = module("api");
const appSettings = (api.params.appSettings as Record<string, string>) ?? {};
const site = one(api.template, "Microsoft.Web/sites");
const platformSettingsExpression = one(api.template, "Microsoft.Web/sites/config").properties as unknown as string;
const platformArgs = args(platformSettingsExpression, "createObject");
const platformSettings = Object.fromEntries(
  platformArgs.flatMap((arg, i) => (i % 2 === 0 ? [[arg.replace(/'/g, ""), platformArgs[i + 1]]] : [])),
);

/** Settings the platform reads, allowed in app settings besides the app's own. */
const PLATFORM_SETTINGS = [
  "AzureWebJobsStorage__accountName",
  "AzureWebJobsStorage__credential",
  "AzureWebJobsStorage__clientId",
  "APPLICATIONINSIGHTS_CONNECTION_STRING",
  "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
];
const KNOWN = new Set<string>([...Object.values(SETTINGS), ...PLATFORM_SETTINGS]);
/** The example local settings: a configuration the app accepts, to vary one setting of. */
const LOCAL_CONFIG = (JSON.parse(read("local.settings.example.json")) as { Values: Record<string, string> }).Values;

// ---------------------------------------------------------------- the parameters, as azd reads them

type Env = Record<string, string>;
interface Resolved {
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
function resolveAsAzd(raw: string, env: Env): Resolved {
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
function templateChecks(values: Record<string, unknown>): string[] {
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
const MAX_CONNECTIONS = template.variables!.postgresMaxConnectionsBySku as Record<string, number>;
const WEBPUBSUB_UNITS = template.variables!.webPubSubUnitsBySku as Record<string, number[]>;
const POSTGRES_REGIONS = template.variables!.postgresFlexibleServerRegions as string[];
const RESERVED = 15;
const MIGRATION_CONNECTIONS = 1; // the one session that holds the migration lock
/** The most connections a deployment opens: old and new instances' pools during a deploy, and the migration lock. */
const connectionPeak = (maximumInstanceCount: number, dbPoolMax: number) => 2 * maximumInstanceCount * dbPoolMax + MIGRATION_CONNECTIONS;

const PARAMETERS = read("infra/main.parameters.json");
/** What `azd up` has on a fresh clone: the environment name and region it asked for, and who signed in. */
const FRESH: Env = { AZURE_ENV_NAME: "mail-dev", AZURE_LOCATION: "eastus2", AZURE_PRINCIPAL_ID: "00000000-0000-0000-0000-000000000001" };
const defaults = resolveAsAzd(PARAMETERS, FRESH);

// ---------------------------------------------------------------- tests

describe("the Bicep compiler", () => {
  it("compiles infra/main.bicep to a subscription-scope ARM template (and lints it) with no error or warning", () => {
    // scripts/bicep.mjs throws on any diagnostic, so reaching here means a clean build.
    expect(template.$schema).toMatch(/subscriptionDeploymentTemplate\.json/);
    expect(deployments.length).toBeGreaterThan(5);
    const lint = execFileSync(process.execPath, [path.join(ROOT, "scripts/bicep.mjs"), "lint"], { cwd: ROOT, encoding: "utf8" });
    expect(lint).toMatch(/linted .* with no error or warning/);
  }, 120_000);
});

describe("main.parameters.json, read the way azd reads it", () => {
  it("is plain JSON as written (azd parses it before substituting)", () => {
    expect(() => JSON.parse(PARAMETERS)).not.toThrow();
  });

  it("on a fresh azd environment: every parameter resolves, with its type, bounds and allowed values", () => {
    expect(defaults.problems).toEqual([]);
    expect(defaults.values).toMatchObject({
      environmentName: "mail-dev",
      location: "eastus2",
      principalId: FRESH.AZURE_PRINCIPAL_ID,
      allowedOrigins: "",
      postgresLocation: "",
      maximumInstanceCount: 40,
      dbPoolMax: 4,
      httpPerInstanceConcurrency: 16,
      instanceMemoryMB: 2048,
      webPubSubSku: "Standard_S1",
      webPubSubCapacity: 1,
      malwareScanning: false,
      postgresSkuName: "Standard_B2s",
      postgresStorageSizeGB: 32,
      postgresStorageAutoGrow: true,
      accessTokenExpireMinutes: 30,
    });
  });

  it("turns overrides from `azd env set` into the parameter's type", () => {
    const overridden = resolveAsAzd(PARAMETERS, {
      ...FRESH,
      MAXIMUM_INSTANCE_COUNT: "100",
      DB_POOL_MAX: "2",
      HTTP_PER_INSTANCE_CONCURRENCY: "32",
      POSTGRES_SKU: "Standard_D2ds_v5",
      ALLOWED_ORIGINS: "https://mail.example.com",
      WEBPUBSUB_SKU: "Standard_S1",
      WEBPUBSUB_CAPACITY: "20",
      POSTGRES_STORAGE_GB: "256",
      POSTGRES_STORAGE_AUTOGROW: "false",
      ACCESS_TOKEN_EXPIRE_MINUTES: "120",
    });
    expect(overridden.problems).toEqual([]);
    expect(overridden.values).toMatchObject({
      maximumInstanceCount: 100,
      dbPoolMax: 2,
      httpPerInstanceConcurrency: 32,
      postgresSkuName: "Standard_D2ds_v5",
      webPubSubSku: "Standard_S1",
      webPubSubCapacity: 20,
      postgresStorageSizeGB: 256,
      postgresStorageAutoGrow: false,
      accessTokenExpireMinutes: 120,
    });
  });

  it("and the template refuses what Azure would refuse", () => {
    const bad = resolveAsAzd(PARAMETERS, {
      ...FRESH,
      MAXIMUM_INSTANCE_COUNT: "20",
      WEBPUBSUB_SKU: "Premium_P3",
      DB_POOL_MAX: "two",
      POSTGRES_STORAGE_GB: "100",
      POSTGRES_STORAGE_AUTOGROW: "yes",
      ACCESS_TOKEN_EXPIRE_MINUTES: "0",
    });
    expect(bad.problems.sort()).toEqual(
      [
        "dbPoolMax: 'two' is not an int",
        "maximumInstanceCount: 20 < 40",
        'webPubSubSku: "Premium_P3" is not allowed',
        "postgresStorageSizeGB: 100 is not allowed",
        "postgresStorageAutoGrow: 'yes' is not a bool",
        "accessTokenExpireMinutes: 0 < 1",
      ].sort(),
    );
  });

  it("and Web PubSub unit counts a tier does not take, and PostgreSQL sizes without a known max_connections", () => {
    const problems = (env: Env) => resolveAsAzd(PARAMETERS, { ...FRESH, ...env }).problems;
    expect(problems({ WEBPUBSUB_SKU: "Free_F1", WEBPUBSUB_CAPACITY: "2" })).toEqual(["webPubSubCapacity: Free_F1 does not take 2 units"]);
    expect(problems({ WEBPUBSUB_SKU: "Standard_S1", WEBPUBSUB_CAPACITY: "15" })).toEqual([
      "webPubSubCapacity: Standard_S1 does not take 15 units",
    ]);
    expect(problems({ WEBPUBSUB_SKU: "Premium_P1", WEBPUBSUB_CAPACITY: "200" })).toEqual([
      "webPubSubCapacity: Premium_P1 does not take 200 units",
    ]);
    expect(problems({ WEBPUBSUB_SKU: "Premium_P2" })).toEqual(["webPubSubCapacity: Premium_P2 does not take 1 units"]);
    for (const [sku, capacity] of [
      ["Standard_S1", "3"],
      ["Standard_S1", "100"],
      ["Premium_P1", "60"],
      ["Premium_P2", "300"],
      ["Premium_P2", "1000"],
    ]) {
      expect(problems({ WEBPUBSUB_SKU: sku, WEBPUBSUB_CAPACITY: capacity }), `${sku} ${capacity}`).toEqual([]);
    }
    expect(problems({ POSTGRES_SKU: "Standard_D3ds_v5" })).toEqual(["postgresSkuName: no max_connections for Standard_D3ds_v5"]);
  });

  it("offers only regions with Flex Consumption (azd's region prompt lists a location parameter's allowed values), and a database region with PostgreSQL Flexible Server", () => {
    const regions = template.parameters.location.allowedValues as string[];
    expect(regions).toEqual(expect.arrayContaining(["eastus2", "swedencentral", "westeurope", "australiaeast", "uksouth"]));
    for (const absent of ["westindia", "eastus2euap", "brazilsoutheast", "chinaeast2", "usgovvirginia"])
      expect(regions, absent).not.toContain(absent);
    expect(resolveAsAzd(PARAMETERS, { ...FRESH, AZURE_LOCATION: "westindia" }).problems).toContain('location: "westindia" is not allowed');
    // The database goes where PostgreSQL is: the main region, or AZURE_POSTGRES_LOCATION when it has none.
    expect(POSTGRES_REGIONS).toEqual(expect.arrayContaining(["eastus2", "swedencentral", "westeurope", "australiaeast"]));
    expect(regions.filter((r) => !POSTGRES_REGIONS.includes(r))).toEqual(["spaincentral"]);
    expect(resolveAsAzd(PARAMETERS, { ...FRESH, AZURE_LOCATION: "spaincentral" }).problems).toEqual([
      "postgresLocation: no PostgreSQL Flexible Server in spaincentral",
    ]);
    expect(
      resolveAsAzd(PARAMETERS, { ...FRESH, AZURE_LOCATION: "spaincentral", AZURE_POSTGRES_LOCATION: "francecentral" }).problems,
    ).toEqual([]);
    expect(resolveAsAzd(PARAMETERS, { ...FRESH, AZURE_POSTGRES_LOCATION: "chinaeast2" }).problems).toEqual([
      "postgresLocation: no PostgreSQL Flexible Server in chinaeast2",
    ]);
    // templateChecks stands for this fail(): the module's location is the checked region.
    expect(template.variables!.postgresRegion).toMatch(
      /^\[if\(contains\(variables\('postgresFlexibleServerRegions'\), if\(empty\(parameters\('postgresLocation'\)\), parameters\('location'\), parameters\('postgresLocation'\)\)\).*fail\(/,
    );
    expect(module("postgres").params.location).toBe("[variables('postgresRegion')]");
  });

  it("supplies only parameters the template declares, and every one it requires", () => {
    const file = JSON.parse(PARAMETERS) as { parameters: Record<string, { value: string }> };
    for (const name of Object.keys(file.parameters)) expect(template.parameters, name).toHaveProperty(name);
    for (const [name, definition] of Object.entries(template.parameters)) {
      if (definition.defaultValue === undefined) expect(Object.keys(file.parameters), name).toContain(name);
    }
    expect(file.parameters.environmentName.value).toBe("${AZURE_ENV_NAME}");
    expect(file.parameters.location.value).toBe("${AZURE_LOCATION}");
    expect(file.parameters.principalId.value).toBe("${AZURE_PRINCIPAL_ID}");
  });
});

describe("secrets", () => {
  const file = JSON.parse(PARAMETERS) as { parameters: Record<string, { value: string }> };
  const SECRET_PARAMS = { jwtSecret: "JWT_SECRET", webPubSubEventHandlerKey: "WEBPUBSUB_EVENT_HANDLER_KEY" };

  it("are generated once by azd, long enough for the app, URL-safe, never defaulted", () => {
    for (const name of Object.keys(SECRET_PARAMS)) {
      const definition = template.parameters[name];
      expect(definition.type, name).toBe("securestring");
      expect(definition.defaultValue, name).toBeUndefined(); // never newGuid()-rotated
      expect(definition.minLength, name).toBeGreaterThanOrEqual(MIN_SECRET_LENGTH);
      expect(definition.metadata?.azd, name).toEqual({ type: "generate", config: { length: expect.any(Number), noSpecial: true } });
      expect(definition.metadata!.azd!.config!.length!, name).toBeGreaterThanOrEqual(MIN_SECRET_LENGTH);
    }
  });

  it("are never written in the parameters file: only an optional override from the azd environment", () => {
    for (const [name, variable] of Object.entries(SECRET_PARAMS)) expect(file.parameters[name].value).toBe(`\${${variable}}`);
    for (const [name, { value }] of Object.entries(file.parameters)) {
      expect(value, name).toMatch(/^\$\{[A-Z_]+(?:=[^}]*)?\}$/);
      expect(value, name).not.toMatch(/=[A-Za-z0-9+/_-]{24,}\}$/);
    }
  });

  it("never leave the deployment as an output (azd keeps outputs in plain text)", () => {
    for (const t of [template, ...allModules()]) {
      for (const [name, output] of Object.entries(t.outputs ?? {})) {
        expect(output.value, name).not.toMatch(/parameters\('(jwtSecret|webPubSubEventHandlerKey|eventHandlerKey)'\)/);
      }
    }
  });
});

describe("app settings", () => {
  it("supply every setting the deployed app needs, under the names the code reads", () => {
    for (const name of [
      SETTINGS.secretKey,
      SETTINGS.accessTokenExpireMinutes,
      SETTINGS.postgresHost,
      SETTINGS.postgresDatabase,
      SETTINGS.postgresUser,
      SETTINGS.postgresSsl,
      SETTINGS.azureClientId,
      SETTINGS.dbMigrateOnStart,
      SETTINGS.dbPoolMax,
      SETTINGS.webPubSubEndpoint,
      SETTINGS.webPubSubHub,
      SETTINGS.webPubSubEventHandlerKey,
    ]) {
      expect(Object.keys(appSettings), name).toContain(name);
    }
    expect(Object.keys(platformSettings).sort()).toEqual([...PLATFORM_SETTINGS].sort());
    expect(args(platformSettingsExpression, "union")[0]).toBe("parameters('appSettings')");
  });

  it("use no name the code or the platform does not know, and none Flex Consumption rejects", () => {
    for (const name of [...Object.keys(appSettings), ...Object.keys(platformSettings)]) expect(KNOWN.has(name), name).toBe(true);
    expect(everything).not.toMatch(
      /FUNCTIONS_WORKER_RUNTIME|FUNCTIONS_EXTENSION_VERSION|WEBSITE_RUN_FROM_PACKAGE|WEBSITE_NODE_DEFAULT_VERSION/,
    );
  });

  it("take secrets from Key Vault, and hold no password, access key or connection string", () => {
    expect(appSettings[SETTINGS.secretKey]).toBe("[format('@Microsoft.KeyVault(SecretUri={0})', keyvault.outputs.jwtSecretUri)]");
    expect(appSettings[SETTINGS.webPubSubEventHandlerKey]).toBe(
      "[format('@Microsoft.KeyVault(SecretUri={0})', keyvault.outputs.eventHandlerKeyUri)]",
    );
    expect(appSettings).not.toHaveProperty(SETTINGS.databaseUrl);
    expect(appSettings).not.toHaveProperty(SETTINGS.webPubSubConnectionString);
    expect(platformSettings).not.toHaveProperty("AzureWebJobsStorage");
    expect(everything).not.toMatch(/administratorLogin|listKeys\(|AccountKey=|primaryKey|listConnectionStrings/);
  });

  it("connect as the app's identity: the database user, the client id, storage, monitoring and Key Vault", () => {
    expect(appSettings[SETTINGS.postgresUser]).toBe("[identity.outputs.name]");
    expect(appSettings[SETTINGS.azureClientId]).toBe("[identity.outputs.clientId]");
    expect(api.params.identityId).toBe("[identity.outputs.id]");
    expect(api.params.identityClientId).toBe("[identity.outputs.clientId]");
    expect(platformSettings).toMatchObject({
      AzureWebJobsStorage__accountName: "parameters('storageAccountName')",
      AzureWebJobsStorage__credential: "'managedidentity'",
      AzureWebJobsStorage__clientId: "parameters('identityClientId')",
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING: "format('ClientId={0};Authorization=AAD', parameters('identityClientId'))",
    });
    expect(site.properties.keyVaultReferenceIdentity).toBe("[parameters('identityId')]");
    expect(site.identity).toEqual({ type: "UserAssigned", userAssignedIdentities: { "[format('{0}', parameters('identityId'))]": {} } });
  });

  it("pass the app's own validation once Azure resolves them with the default parameters", () => {
    const resolve = (value: string): string => {
      if (value.includes("@Microsoft.KeyVault")) return "resolved-from-key-vault-0123456789abcdefghijklmnopqrstuvwxyz";
      const parameter = /^\[(?:string\()?parameters\('(\w+)'\)\)?\]$/.exec(value)?.[1];
      if (parameter) return String(defaults.values[parameter]);
      if (value.startsWith("[")) return `sample-${value.replace(/\W+/g, "-")}`;
      return value;
    };
    const resolved = Object.fromEntries(Object.entries(appSettings).map(([name, value]) => [name, resolve(value)]));
    resolved[SETTINGS.webPubSubEndpoint] = "https://wps-abc.webpubsub.azure.com";
    // Outputs and expressions of the attachments module, as Azure resolves them.
    resolved[SETTINGS.attachmentBlobEndpoint] = "https://stattabc.blob.core.windows.net/";
    resolved[SETTINGS.attachmentContainer] = "attachments";
    resolved[SETTINGS.attachmentMalwareScanning] = String(defaults.values.malwareScanning ?? false);
    const config = parseConfig(resolved);
    expect(config.attachments.storage).toEqual({ kind: "identity", endpoint: "https://stattabc.blob.core.windows.net/" });
    expect(config.database.kind).toBe("entra");
    expect(config.database.kind === "entra" && config.database.ssl).toBe(true);
    expect(config.webPubSub.kind).toBe("identity");
    expect(config.migrateOnStart).toBe(true);
    expect(config.pool.max).toBe(defaults.values.dbPoolMax);
    expect(config.accessTokenExpireMinutes).toBe(30);
    expect(config.hub).toBe(DEFAULT_HUB);
    expect(config.eventHandlerKey).toBeDefined();
  });

  it("ACCESS_TOKEN_EXPIRE_MINUTES comes from the azd environment, within the bounds the app accepts", () => {
    const file = JSON.parse(PARAMETERS) as { parameters: Record<string, { value: string }> };
    expect(file.parameters.accessTokenExpireMinutes.value).toBe("${ACCESS_TOKEN_EXPIRE_MINUTES=30}");
    expect(appSettings[SETTINGS.accessTokenExpireMinutes]).toBe("[string(parameters('accessTokenExpireMinutes'))]");
    const { minValue, maxValue } = template.parameters.accessTokenExpireMinutes;
    const minutes = (value: number) =>
      parseConfig({ ...LOCAL_CONFIG, [SETTINGS.accessTokenExpireMinutes]: String(value) }).accessTokenExpireMinutes;
    expect(minutes(minValue!)).toBe(minValue);
    expect(minutes(maxValue!)).toBe(maxValue);
    expect(() => minutes(minValue! - 1)).toThrow();
    expect(() => minutes(maxValue! + 1)).toThrow();
  });

  it("are read only by shared/config/config.ts (and the migrate command; tools/ are commands outside the app): no other code reads the environment", () => {
    const readers: string[] = [];
    for (const dir of ["functions", "shared"]) {
      for (const file of readdirSync(path.join(ROOT, dir), { recursive: true, encoding: "utf8" })) {
        if (/\.(ts|cjs)$/.test(file) && /process\.env\b/.test(read(`${dir}/${file}`))) readers.push(`${dir}/${file}`);
      }
    }
    expect(readers.sort()).toEqual(["shared/config/config.ts", "shared/data/migrate-cli.ts"]);
  });
});

describe("resources", () => {
  it("everything in the resource group rg-<environment>, tagged with the azd environment", () => {
    const rg = one(template, "Microsoft.Resources/resourceGroups");
    expect(rg.name).toBe("[format('{0}{1}', variables('abbrs').resourcesResourceGroups, parameters('environmentName'))]");
    const abbreviations = template.variables![/^\[variables\('(.+)'\)\]$/.exec(template.variables!.abbrs as string)![1]] as Record<
      string,
      string
    >;
    expect(abbreviations.resourcesResourceGroups).toBe("rg-");
    expect(template.variables!.tags).toEqual({ "azd-env-name": "[parameters('environmentName')]" });
    for (const deployment of deployments) {
      expect(deployment.properties.parameters!.tags?.value ?? "[variables('tags')]", deployment.name).toBe("[variables('tags')]");
      expect(deployment.dependsOn, deployment.name).toContain(
        "[subscriptionResourceId('Microsoft.Resources/resourceGroups', format('{0}{1}', variables('abbrs').resourcesResourceGroups, parameters('environmentName')))]",
      );
    }
  });

  it("a Flex Consumption function app on Linux, Node 22, deployed from blob storage with the identity", () => {
    const plan = one(api.template, "Microsoft.Web/serverfarms");
    expect(plan.sku).toEqual({ name: "FC1", tier: "FlexConsumption" });
    expect(plan.properties.reserved).toBe(true);
    expect(site.kind).toBe("functionapp,linux");
    expect(site.tags).toBe("[union(parameters('tags'), createObject('azd-service-name', 'api'))]");
    expect(site.properties.httpsOnly).toBe(true);
    const config = site.properties.functionAppConfig as Record<string, Record<string, unknown>>;
    expect(config.runtime).toEqual({ name: "node", version: "22" });
    expect(config.deployment.storage).toEqual({
      type: "blobContainer",
      value: "[format('{0}{1}', parameters('storageBlobEndpoint'), parameters('deploymentContainerName'))]",
      authentication: { type: "UserAssignedIdentity", userAssignedIdentityResourceId: "[parameters('identityId')]" },
    });
    expect(resourcesOf(module("storage").template, "Microsoft.Storage/storageAccounts/blobServices/containers")).toHaveLength(1);
    expect(module("storage").params.deploymentContainerName).toBe(api.params.deploymentContainerName);
  });

  it("scales to a maximum Flex Consumption accepts (40 at the least), with a per-instance HTTP concurrency", () => {
    const scale = (site.properties.functionAppConfig as Record<string, unknown>).scaleAndConcurrency;
    expect(scale).toEqual({
      instanceMemoryMB: "[parameters('instanceMemoryMB')]",
      maximumInstanceCount: "[parameters('maximumInstanceCount')]",
      triggers: { http: { perInstanceConcurrency: "[parameters('httpPerInstanceConcurrency')]" } },
    });
    expect(api.params).toMatchObject({
      instanceMemoryMB: "[parameters('instanceMemoryMB')]",
      maximumInstanceCount: "[parameters('maximumInstanceCount')]",
      httpPerInstanceConcurrency: "[parameters('httpPerInstanceConcurrency')]",
    });
    expect(template.parameters.maximumInstanceCount).toMatchObject({ type: "int", defaultValue: 40, minValue: 40, maxValue: 1000 });
    expect(template.parameters.instanceMemoryMB.allowedValues).toEqual([512, 2048, 4096]);
  });

  it("cannot open more database connections than the server gives its users, even while a deploy overlaps old and new instances", () => {
    const { postgresSkuName, maximumInstanceCount, dbPoolMax } = defaults.values as {
      postgresSkuName: string;
      maximumInstanceCount: number;
      dbPoolMax: number;
    };
    expect(appSettings[SETTINGS.dbPoolMax]).toBe("[string(parameters('dbPoolMax'))]");
    expect(module("postgres").params.skuName).toBe("[parameters('postgresSkuName')]");
    const userConnections = MAX_CONNECTIONS[postgresSkuName] - RESERVED;
    const peak = connectionPeak(maximumInstanceCount, dbPoolMax);
    expect(peak).toBe(321);
    expect(userConnections).toBe(414);
    expect(peak).toBeLessThanOrEqual(userConnections);
    expect(read("docs/deploy.md"), "docs/deploy.md states the same budget").toContain(`**${peak} ≤ ${userConnections}**`);
    // Why not B1ms: even one connection per instance at the least maximum Flex Consumption takes does not fit.
    expect(2 * 40 * 1 + MIGRATION_CONNECTIONS).toBeGreaterThan(MAX_CONNECTIONS.Standard_B1ms - RESERVED);
  });

  it("browser origins only from a parameter, none by default, without credentials", () => {
    expect(template.parameters.allowedOrigins.defaultValue).toBe("");
    expect(template.variables!.corsOrigins).toMatch(/^\[map\(filter\(split\(parameters\('allowedOrigins'\), ','\)/);
    expect(api.params.allowedOrigins).toBe("[variables('corsOrigins')]");
    expect((site.properties.siteConfig as Record<string, unknown>).cors).toEqual({
      allowedOrigins: "[parameters('allowedOrigins')]",
      supportCredentials: false,
    });
    expect(defaults.values.allowedOrigins).toBe("");
    expect(everything).not.toMatch(/localhost/);
  });

  it("storage without shared keys; the host gets its storage and monitoring roles before it starts", () => {
    const storage = module("storage").template;
    expect(one(storage, "Microsoft.Storage/storageAccounts").properties).toMatchObject({
      allowSharedKeyAccess: false,
      allowBlobPublicAccess: false,
    });
    expect(module("rbac").params.appPrincipalId).toBe("[identity.outputs.principalId]");
    expect(api.dependsOn).toContain("module:rbac");
  });

  it("Log Analytics and Application Insights that accept only Entra-authenticated telemetry", () => {
    const monitoring = module("monitoring").template;
    expect(resourcesOf(monitoring, "Microsoft.OperationalInsights/workspaces")).toHaveLength(1);
    expect(one(monitoring, "Microsoft.Insights/components").properties).toMatchObject({ DisableLocalAuth: true });
  });

  it("PostgreSQL Flexible Server 16, Entra only, TLS required, reachable from Azure", () => {
    const pg = module("postgres");
    expect(template.parameters.postgresVersion.defaultValue).toBe("16");
    expect(template.variables!.postgresSkuTier).toMatch(/^\[if\(startsWith\(parameters\('postgresSkuName'\), 'Standard_B'\), 'Burstable'/);
    const server = one(pg.template, "Microsoft.DBforPostgreSQL/flexibleServers");
    expect(server.sku).toEqual({ name: "[parameters('skuName')]", tier: "[parameters('skuTier')]" });
    expect(server.properties.authConfig).toMatchObject({ activeDirectoryAuth: "Enabled", passwordAuth: "Disabled" });
    const requireTls = resourcesOf(pg.template, "Microsoft.DBforPostgreSQL/flexibleServers/configurations").find((c) =>
      c.name.includes("'require_secure_transport'"),
    );
    expect(requireTls?.properties).toMatchObject({ value: "on" });
    expect(one(pg.template, "Microsoft.DBforPostgreSQL/flexibleServers/firewallRules").properties).toEqual({
      startIpAddress: "0.0.0.0",
      endIpAddress: "0.0.0.0",
    });
  });

  it("PostgreSQL storage: POSTGRES_STORAGE_GB and POSTGRES_STORAGE_AUTOGROW reach the server (autogrow on by default)", () => {
    const pg = module("postgres");
    expect(pg.params).toMatchObject({
      storageSizeGB: "[parameters('postgresStorageSizeGB')]",
      storageAutoGrow: "[parameters('postgresStorageAutoGrow')]",
    });
    const server = one(pg.template, "Microsoft.DBforPostgreSQL/flexibleServers");
    expect(server.properties.storage).toEqual({
      storageSizeGB: "[parameters('storageSizeGB')]",
      autoGrow: "[if(parameters('storageAutoGrow'), 'Enabled', 'Disabled')]",
    });
    expect(template.parameters.postgresStorageSizeGB).toMatchObject({ type: "int", defaultValue: 32 });
    expect(template.parameters.postgresStorageSizeGB.allowedValues).toEqual([
      32, 64, 128, 256, 512, 1024, 2048, 4095, 4096, 8192, 16384, 32767,
    ]);
    expect(template.parameters.postgresStorageAutoGrow).toMatchObject({ type: "bool", defaultValue: true });
  });

  it("PostgreSQL max_connections: set from POSTGRES_SKU, so a later size change carries its own value", () => {
    const pg = module("postgres");
    expect(pg.params.maxConnections).toBe("[variables('postgresMaxConnections')]");
    // An unknown size stops the deployment (fail) instead of leaving max_connections at another size's value.
    expect(template.variables!.postgresMaxConnections).toMatch(
      /^\[coalesce\(tryGet\(variables\('postgresMaxConnectionsBySku'\), parameters\('postgresSkuName'\)\), fail\(format\('POSTGRES_SKU \{0\} has no max_connections/,
    );
    const limit = resourcesOf(pg.template, "Microsoft.DBforPostgreSQL/flexibleServers/configurations").find((c) =>
      c.name.includes("'max_connections'"),
    );
    expect(limit?.properties).toEqual({ value: "[string(parameters('maxConnections'))]", source: "user-override" });
    expect(pg.template.parameters.maxConnections).toMatchObject({ type: "int", minValue: 25, maxValue: 5000 });
    // Azure's documented defaults (concepts-limits) for the sizes README and docs/SCALING.md name.
    expect(MAX_CONNECTIONS).toMatchObject({
      Standard_B1ms: 50,
      Standard_B2s: 429,
      Standard_D2ds_v5: 859,
      Standard_D4ds_v5: 1718,
      Standard_E16ds_v5: 5000,
    });
    for (const [sku, value] of Object.entries(MAX_CONNECTIONS)) {
      expect(sku, sku).toMatch(/^Standard_(B\d+m?s|[DE]\d+a?ds_v5)$/);
      expect([50, 429, 859, 1718, 3437, 5000], sku).toContain(value);
    }
  });

  it("PostgreSQL: the app's identity is an Entra administrator before the database exists, so it owns the database; the deployer is a second one", () => {
    const pg = module("postgres");
    expect(pg.params.appIdentityName).toBe("[identity.outputs.name]");
    expect(pg.params.appIdentityPrincipalId).toBe("[identity.outputs.principalId]");
    const [appAdmin, deployerAdmin] = resourcesOf(pg.template, "Microsoft.DBforPostgreSQL/flexibleServers/administrators");
    expect(appAdmin.name).toBe("[format('{0}/{1}', parameters('name'), parameters('appIdentityPrincipalId'))]");
    expect(appAdmin.properties).toMatchObject({ principalType: "ServicePrincipal", principalName: "[parameters('appIdentityName')]" });
    const database = one(pg.template, "Microsoft.DBforPostgreSQL/flexibleServers/databases");
    expect(database.dependsOn).toContain(
      "[resourceId('Microsoft.DBforPostgreSQL/flexibleServers/administrators', parameters('name'), parameters('appIdentityPrincipalId'))]",
    );
    expect(deployerAdmin.condition).toBe(
      "[and(not(empty(parameters('deployerObjectId'))), not(empty(parameters('deployerUserPrincipalName'))))]",
    );
    expect(deployerAdmin.properties).toMatchObject({ principalType: "User", principalName: "[parameters('deployerUserPrincipalName')]" });
    // The server takes one change at a time: each child waits for the one before.
    const children = pg.template.resources.slice(1).filter((r) => r.type.startsWith("Microsoft.DBforPostgreSQL/"));
    for (const [i, child] of children.entries()) {
      if (i === 0) continue;
      const previous = children[i - 1];
      expect(
        child.dependsOn!.some((d) => d.startsWith(`[resourceId('${previous.type}'`)),
        `${child.type} after ${previous.type}`,
      ).toBe(true);
    }
    expect(pg.params.deployerObjectId).toBe("[deployer().objectId]");
  });

  it("Web PubSub: Standard_S1 by default, local auth off, the app identity as Service Owner, its own identity for Key Vault", () => {
    const wps = module("webpubsub");
    expect(template.parameters.webPubSubSku).toMatchObject({
      defaultValue: "Standard_S1",
      allowedValues: ["Free_F1", "Standard_S1", "Premium_P1", "Premium_P2"],
    });
    expect(wps.params.skuName).toBe("[variables('webPubSubSkuName')]");
    const service = one(wps.template, "Microsoft.SignalRService/webPubSub");
    expect(service.properties).toMatchObject({ disableLocalAuth: true });
    expect(service.identity).toEqual({ type: "UserAssigned", userAssignedIdentities: { "[format('{0}', parameters('identityId'))]": {} } });
    expect(wps.params.identityId).toBe("[webpubsub-identity.outputs.id]");
    expect(JSON.stringify(wps.template.variables)).toContain("12cf5a90-567b-43ae-8102-96cf46c7d9b4"); // Web PubSub Service Owner
    expect(one(wps.template, "Microsoft.Authorization/roleAssignments").properties).toMatchObject({
      principalId: "[parameters('appPrincipalId')]",
      principalType: "ServicePrincipal",
    });
    expect(wps.params.appPrincipalId).toBe("[identity.outputs.principalId]");
    expect(wps.template.outputs.endpoint.value).toBe(
      "[format('https://{0}', reference(resourceId('Microsoft.SignalRService/webPubSub', parameters('name')), '2024-03-01').hostName)]",
    );
    expect(appSettings[SETTINGS.webPubSubEndpoint]).toBe("[webpubsub.outputs.endpoint]");
  });

  it("Web PubSub units: WEBPUBSUB_CAPACITY reaches the resource's sku, only in a count its tier takes", () => {
    const wps = module("webpubsub");
    expect(wps.params.capacity).toBe("[variables('webPubSubUnits')]");
    // A count the tier does not take (Free_F1 with 2 units) stops the deployment while ARM validates it.
    expect(template.variables!.webPubSubUnits).toMatch(
      /^\[if\(contains\(variables\('webPubSubUnitsBySku'\)\[parameters\('webPubSubSku'\)\], parameters\('webPubSubCapacity'\)\), parameters\('webPubSubCapacity'\), fail\(/,
    );
    const service = one(wps.template, "Microsoft.SignalRService/webPubSub");
    expect(service.sku).toEqual({
      name: "[parameters('skuName')]",
      tier: "[split(parameters('skuName'), '_')[0]]",
      capacity: "[parameters('capacity')]",
    });
    expect(template.parameters.webPubSubCapacity).toMatchObject({ type: "int", defaultValue: 1, minValue: 1, maxValue: 1000 });
    // ResourceSku.capacity in the Microsoft.SignalRService REST API.
    const upTo100 = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
    expect(WEBPUBSUB_UNITS).toEqual({
      Free_F1: [1],
      Standard_S1: upTo100,
      Premium_P1: upTo100,
      Premium_P2: [100, 200, 300, 400, 500, 600, 700, 800, 900, 1000],
    });
    expect(Object.keys(WEBPUBSUB_UNITS).sort()).toEqual([...template.parameters.webPubSubSku.allowedValues!].sort());
  });

  it("the hub denies anonymous clients and calls the events function with a Key Vault reference, never the key itself", () => {
    const hubModule = module("webpubsub-hub");
    const hub = one(hubModule.template, "Microsoft.SignalRService/webPubSub/hubs");
    expect(hub.properties.anonymousConnectPolicy).toBe("deny");
    const [handler, ...others] = hub.properties.eventHandlers as Record<string, unknown>[];
    expect(others).toEqual([]);
    expect(handler).toMatchObject({ systemEvents: ["connected", "disconnected"], userEventPattern: "" });
    expect(EVENTS_ROUTE).toBe("webpubsub/events");
    // ARM's format() writes `{{`/`}}` for literal braces: Web PubSub receives `...?key={@Microsoft.KeyVault(SecretUri=<uri>)}`.
    expect(handler.urlTemplate).toBe(
      `[format('https://{0}/${EVENTS_ROUTE}?${EVENT_HANDLER_KEY_PARAM}={{@Microsoft.KeyVault(SecretUri={1})}}', parameters('functionAppHostName'), parameters('eventHandlerKeyUri'))]`,
    );
    expect(Object.keys(hubModule.template.parameters).sort()).toEqual([
      "eventHandlerKeyUri",
      "functionAppHostName",
      "hubName",
      "webPubSubName",
    ]);
    expect(hubModule.params.eventHandlerKeyUri).toBe("[keyvault.outputs.eventHandlerKeyUri]");
    expect(hubModule.params.functionAppHostName).toBe("[api.outputs.defaultHostName]");
    expect(hubModule.params.hubName).toBe("[parameters('webPubSubHub')]");
    expect(appSettings[SETTINGS.webPubSubHub]).toBe("[parameters('webPubSubHub')]");
    expect(template.parameters.webPubSubHub.defaultValue).toBe(DEFAULT_HUB);
    // Web PubSub may read the key (same keyvault module) before the hub that needs it exists.
    expect(hubModule.dependsOn).toContain("module:keyvault");
  });

  it("Key Vault with RBAC holds the two secrets; the app reads both, Web PubSub only its key, the deployer manages them", () => {
    const kv = module("keyvault");
    expect(one(kv.template, "Microsoft.KeyVault/vaults").properties).toMatchObject({ enableRbacAuthorization: true });
    const secrets = resourcesOf(kv.template, "Microsoft.KeyVault/vaults/secrets");
    expect(secrets.map((s) => [s.name, s.properties.value])).toEqual([
      ["[format('{0}/{1}', parameters('name'), 'jwt-secret')]", "[parameters('jwtSecret')]"],
      ["[format('{0}/{1}', parameters('name'), 'webpubsub-event-handler-key')]", "[parameters('eventHandlerKey')]"],
    ]);
    expect(kv.template.outputs.eventHandlerKeyUri.value).toBe(
      "[reference(resourceId('Microsoft.KeyVault/vaults/secrets', parameters('name'), 'webpubsub-event-handler-key'), '2023-07-01').secretUri]",
    );
    expect(kv.template.variables).toMatchObject({
      keyVaultSecretsUser: "4633458b-17de-408a-b874-0445c86b69e6",
      keyVaultSecretsOfficer: "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
    });
    const [app, webPubSub, deployer] = resourcesOf(kv.template, "Microsoft.Authorization/roleAssignments");
    expect(app.scope).toBe("[resourceId('Microsoft.KeyVault/vaults', parameters('name'))]");
    expect(app.properties).toMatchObject({
      principalId: "[parameters('appPrincipalId')]",
      roleDefinitionId: expect.stringContaining("keyVaultSecretsUser"),
    });
    expect(webPubSub.scope).toBe("[resourceId('Microsoft.KeyVault/vaults/secrets', parameters('name'), 'webpubsub-event-handler-key')]");
    expect(webPubSub.properties).toMatchObject({
      principalId: "[parameters('webPubSubPrincipalId')]",
      roleDefinitionId: expect.stringContaining("keyVaultSecretsUser"),
    });
    expect(deployer.condition).toBe("[not(empty(parameters('deployerPrincipalId')))]");
    expect(deployer.properties.roleDefinitionId).toEqual(expect.stringContaining("keyVaultSecretsOfficer"));
    expect(kv.params).toMatchObject({
      jwtSecret: "[parameters('jwtSecret')]",
      eventHandlerKey: "[parameters('webPubSubEventHandlerKey')]",
      deployerPrincipalId: "[parameters('principalId')]",
      appPrincipalId: "[identity.outputs.principalId]",
      webPubSubPrincipalId: "[webpubsub-identity.outputs.principalId]",
    });
  });

  it("two user-assigned identities, one for the app and one for Web PubSub; none system-assigned", () => {
    const identities = allModules().flatMap((t) => resourcesOf(t, "Microsoft.ManagedIdentity/userAssignedIdentities"));
    expect(identities).toHaveLength(2);
    expect(module("identity").params.name).toBe(
      "[format('{0}api-{1}', variables('abbrs').managedIdentityUserAssignedIdentities, variables('resourceToken'))]",
    );
    expect(module("webpubsub-identity").params.name).toBe(
      "[format('{0}wps-{1}', variables('abbrs').managedIdentityUserAssignedIdentities, variables('resourceToken'))]",
    );
    expect(everything).not.toMatch(/SystemAssigned/);
  });

  it("outputs what azd, the hooks and a frontend need", () => {
    for (const output of [
      "AZURE_LOCATION",
      "AZURE_TENANT_ID",
      "AZURE_RESOURCE_GROUP",
      "SERVICE_API_NAME",
      "SERVICE_API_URI",
      "API_URL",
      "AZURE_FUNCTION_APP_NAME",
      "AZURE_KEY_VAULT_NAME",
      "POSTGRES_HOST",
      "POSTGRES_DATABASE",
      "WEBPUBSUB_ENDPOINT",
      "WEBPUBSUB_HUB",
    ]) {
      expect(template.outputs[output]?.type, output).toBe("string");
    }
    expect(simplify(template.outputs.SERVICE_API_URI.value)).toBe("[api.outputs.uri]");
    // The postdeploy hook restarts the app by these (azd itself sets AZURE_SUBSCRIPTION_ID).
    const hookReads = [...read("infra/hooks/postdeploy.mjs").matchAll(/env\.([A-Z_]+)/g)].map((m) => m[1]);
    expect(hookReads.filter((name) => name !== "AZURE_SUBSCRIPTION_ID" && !template.outputs[name])).toEqual([]);
    expect(simplify(template.outputs.SERVICE_API_NAME.value)).toBe("[api.outputs.name]");
    expect(api.template.outputs.uri.value).toBe(
      "[format('https://{0}', reference(resourceId('Microsoft.Web/sites', parameters('name')), '2024-04-01').defaultHostName)]",
    );
  });
});

/** Every role assignment in the compiled template (modules included): `<module>: <role id> to <principal parameter>`. */
function roleAssignments(): string[] {
  const found: string[] = [];
  const walk = (t: Template, name: string) => {
    for (const r of t.resources) {
      if (r.type === "Microsoft.Resources/deployments") walk(r.properties.template as Template, r.name);
      if (r.type !== "Microsoft.Authorization/roleAssignments") continue;
      const definition = String(r.properties.roleDefinitionId);
      const ref = /variables\('(\w+)'\)(?:\.(\w+))?/.exec(definition);
      const variable = ref ? (t.variables ?? {})[ref[1]] : undefined;
      const roleId = ref
        ? String(ref[2] ? (variable as Record<string, unknown>)[ref[2]] : variable)
        : (/[0-9a-f-]{36}/.exec(definition)?.[0] ?? definition);
      const principal = /parameters\('(\w+)'\)/.exec(String(r.properties.principalId))?.[1] ?? String(r.properties.principalId);
      found.push(`${name}: ${roleId} to ${principal}`);
    }
  };
  walk(template, "main");
  return found.sort();
}

const appSource = () =>
  ["shared", "functions"]
    .flatMap((dir) => readdirSync(path.join(ROOT, dir), { recursive: true }).map((f) => path.join(ROOT, dir, String(f))))
    .filter((f) => f.endsWith(".ts"))
    .map((f) => readFileSync(f, "utf8"))
    .join("\n");

/** The roles the deployment needs, each with what uses it, checked where this repository can show it. */
const ROLE_USES: Record<string, { role: string; usedBy: string; used: () => boolean }> = {
  "rbac: b7e6dc6d-f1e8-4753-8033-0f276bb0955b to appPrincipalId": {
    role: "Storage Blob Data Owner",
    usedBy: "the host's storage by identity (keys, locks) and the deployment package container",
    used: () =>
      platformSettings.AzureWebJobsStorage__credential === "'managedidentity'" &&
      JSON.stringify(site.properties.functionAppConfig).includes("UserAssignedIdentity"),
  },
  "rbac: 3913510d-42f4-4e42-8a64-420c390055eb to appPrincipalId": {
    role: "Monitoring Metrics Publisher",
    usedBy: "telemetry sent with Entra auth (APPLICATIONINSIGHTS_AUTHENTICATION_STRING)",
    used: () => "APPLICATIONINSIGHTS_AUTHENTICATION_STRING" in platformSettings,
  },
  "keyvault: 4633458b-17de-408a-b874-0445c86b69e6 to appPrincipalId": {
    role: "Key Vault Secrets User",
    usedBy: "SECRET_KEY and WEBPUBSUB_EVENT_HANDLER_KEY are Key Vault references",
    used: () => Object.values(appSettings).filter((v) => v.includes("@Microsoft.KeyVault")).length === 2,
  },
  "keyvault: 4633458b-17de-408a-b874-0445c86b69e6 to webPubSubPrincipalId": {
    role: "Key Vault Secrets User (one secret)",
    usedBy: "the hub's event handler URL carries the key as a Key Vault reference",
    used: () => JSON.stringify(module("webpubsub-hub").template).includes("@Microsoft.KeyVault"),
  },
  "keyvault: b86a8fe4-44ce-4948-aee5-eccb2c155cd7 to deployerPrincipalId": {
    role: "Key Vault Secrets Officer",
    usedBy: "the person running azd may read and rotate the secrets (docs/deploy.md, Security)",
    used: () => read("docs/deploy.md").includes("Key Vault"),
  },
  "attachments: b7e6dc6d-f1e8-4753-8033-0f276bb0955b to appPrincipalId": {
    role: "Storage Blob Data Owner (the attachments container)",
    usedBy: "attachments: read, write and delete them, their index tags (Defender's verdict)",
    used: () => appSettings[SETTINGS.attachmentContainer] === "[attachments.outputs.containerName]",
  },
  "attachments: db58b8e5-c6ad-4a2a-8342-4190687cbf4a to appPrincipalId": {
    role: "Storage Blob Delegator (the attachments account)",
    usedBy: "the user-delegation key that signs upload and download URLs",
    used: () => appSettings[SETTINGS.attachmentBlobEndpoint] === "[attachments.outputs.blobEndpoint]",
  },
  "webpubsub: 12cf5a90-567b-43ae-8102-96cf46c7d9b4 to appPrincipalId": {
    role: "Web PubSub Service Owner",
    usedBy: "shared/realtime: WebPubSubServiceClient with the app's identity (client tokens, sends)",
    used: () => /new WebPubSubServiceClient\(/.test(appSource()) && /ManagedIdentityCredential/.test(appSource()),
  },
};

describe("role assignments", () => {
  it("are exactly the ones the app, Web PubSub and the deployer use (none for queues or tables, which an HTTP-only app never touches)", () => {
    expect(roleAssignments()).toEqual(Object.keys(ROLE_USES).sort());
    for (const [assignment, { role, used }] of Object.entries(ROLE_USES)) expect(used(), `${assignment} (${role})`).toBe(true);
  });
});

describe("docs/SCALING.md, the capacity plan", () => {
  const plan = read("docs/SCALING.md");
  // Each size's `azd env set` lines, under "#### <users> users" in "Settings per size".
  const sizes = [...plan.matchAll(/^#### ([\d,]+) users\n+```bash\n([\s\S]*?)```/gm)].map(([, users, block]) => ({
    users,
    settings: Object.fromEntries([...block.matchAll(/^azd env set (\w+) (\S+)$/gm)].map(([, name, value]) => [name, value])),
  }));
  const n = (value: number) => value.toLocaleString("en-US");

  it("has settings for 10,000, 100,000 and 1,000,000 users, each accepted by the template as azd passes it", () => {
    expect(sizes.map((size) => size.users)).toEqual(["10,000", "100,000", "1,000,000"]);
    for (const { users, settings } of sizes) {
      expect(Object.keys(settings).length, users).toBeGreaterThan(0);
      expect(resolveAsAzd(PARAMETERS, { ...FRESH, ...settings }).problems, users).toEqual([]);
    }
  });

  it("names only variables that main.parameters.json maps (an unmapped `azd env set` would change nothing)", () => {
    const mapped = new Set([...PARAMETERS.matchAll(/\$\{(\w+)/g)].map(([, variable]) => variable));
    for (const { users, settings } of sizes)
      for (const variable of Object.keys(settings)) expect(mapped.has(variable), `${users}: ${variable}`).toBe(true);
    for (const closed of ["WEBPUBSUB_CAPACITY", "POSTGRES_STORAGE_GB", "POSTGRES_STORAGE_AUTOGROW", "ACCESS_TOKEN_EXPIRE_MINUTES"])
      expect(mapped.has(closed), closed).toBe(true);
    expect(plan).not.toMatch(/Not settable/);
  });

  it("sets the Web PubSub units and the disk its table states, and the units cover the sockets at 80 %", () => {
    const cells = (label: string) =>
      plan
        .split("\n")
        .find((line) => line.startsWith(`| ${label} |`))!
        .split("|")
        .slice(2, 5);
    const sockets = cells("sockets at peak").map((cell) => Number(/\*\*([\d,]+)\*\*/.exec(cell)![1].replace(/,/g, "")));
    const webPubSub = cells("Web PubSub");
    const disk = cells("disk (IOPS)");
    for (const [i, { users, settings }] of sizes.entries()) {
      const { webPubSubSku, webPubSubCapacity, postgresStorageSizeGB } = resolveAsAzd(PARAMETERS, { ...FRESH, ...settings }).values as {
        webPubSubSku: string;
        webPubSubCapacity: number;
        postgresStorageSizeGB: number;
      };
      expect(webPubSub[i], users).toContain(`**${webPubSubSku}, ${n(webPubSubCapacity)} units**`);
      // The fewest units the tier takes that hold the sockets at 80 % of 1,000 a unit.
      expect(webPubSubCapacity, users).toBe(WEBPUBSUB_UNITS[webPubSubSku].find((units) => units * 1000 * 0.8 >= sockets[i]));
      const size = postgresStorageSizeGB >= 1024 ? `${postgresStorageSizeGB / 1024} TiB` : `${postgresStorageSizeGB} GiB`;
      expect(disk[i].trim(), users).toMatch(new RegExp(`^${size} \\(`));
    }
  });

  it("docs/deploy.md's production sizes use variables main.parameters.json maps, with values the template accepts", () => {
    const deploy = read("docs/deploy.md");
    const section = deploy.slice(deploy.indexOf("## Production sizes"), deploy.indexOf("## Remove everything"));
    const settings = Object.fromEntries([...section.matchAll(/^azd env set (\w+) (\S+)/gm)].map(([, name, value]) => [name, value]));
    expect(Object.keys(settings).length).toBeGreaterThan(3);
    const mapped = new Set([...PARAMETERS.matchAll(/\$\{(\w+)/g)].map(([, variable]) => variable));
    for (const variable of Object.keys(settings)) expect(mapped.has(variable), variable).toBe(true);
    expect(resolveAsAzd(PARAMETERS, { ...FRESH, ...settings }).problems).toEqual([]);
  });

  it("states the template's defaults as they are", () => {
    const d = defaults.values as {
      maximumInstanceCount: number;
      dbPoolMax: number;
      instanceMemoryMB: number;
      httpPerInstanceConcurrency: number;
      postgresSkuName: string;
      webPubSubSku: string;
    };
    expect(plan).toContain(`| ${d.maximumInstanceCount} / ${d.dbPoolMax} (defaults) |`);
    expect(plan).toContain(`| ${d.instanceMemoryMB} / ${d.httpPerInstanceConcurrency} (defaults) |`);
    expect(plan).toContain(`**${d.postgresSkuName}** (default;`);
    expect(plan).toContain(`**${d.webPubSubSku}** (the default)`);
  });

  it("keeps every size's database connections within its server's, and states that arithmetic", () => {
    const row = plan.split("\n").find((line) => line.startsWith("| DB connections |"));
    expect(row).toBeDefined();
    const cells = row!.split("|").slice(2, 5);
    for (const [i, { users, settings }] of sizes.entries()) {
      const { postgresSkuName, maximumInstanceCount, dbPoolMax } = resolveAsAzd(PARAMETERS, { ...FRESH, ...settings }).values as {
        postgresSkuName: string;
        maximumInstanceCount: number;
        dbPoolMax: number;
      };
      expect(MAX_CONNECTIONS, `${users}: max_connections of ${postgresSkuName}`).toHaveProperty(postgresSkuName);
      const userConnections = MAX_CONNECTIONS[postgresSkuName] - RESERVED;
      const peak = connectionPeak(maximumInstanceCount, dbPoolMax);
      expect(peak, users).toBeLessThanOrEqual(userConnections);
      expect(cells[i], users).toContain(`${n(peak)} ≤ ${n(userConnections)}`);
    }
  });
});
