/**
 * With no Bicep compiler here, these structural checks guard the infra against drift: every
 * setting the code needs is supplied, no unknown one is, modules and their parameters match,
 * and each resource keeps the properties the design depends on.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../shared/config";
import { EVENT_HANDLER_KEY_PARAM } from "../shared/event-caller";
import { SETTINGS } from "../shared/settings";

const ROOT = path.resolve(__dirname, "..");
const read = (file: string) => readFileSync(path.join(ROOT, file), "utf8");
const main = read("infra/main.bicep");
const modules = Object.fromEntries(readdirSync(path.join(ROOT, "infra/app")).map((f) => [`app/${f}`, read(`infra/app/${f}`)]));
const allBicep = [main, ...Object.values(modules)].join("\n");

/** The text of the `{ ... }` block that follows `marker` in `source`. */
function block(source: string, marker: string | RegExp): string {
  const start = typeof marker === "string" ? source.indexOf(marker) : source.search(marker);
  if (start < 0) throw new Error(`no ${marker}`);
  const open = source.indexOf("{", start);
  let depth = 0;
  for (let i = open; i < source.length; i++) {
    if (source[i] === "{") depth++;
    if (source[i] === "}" && --depth === 0) return source.slice(open + 1, i);
  }
  throw new Error(`unbalanced block after ${marker}`);
}

/** Keys at the top level of a Bicep object body, on one line or many. */
function topLevelKeys(body: string): string[] {
  const segments: string[] = [];
  let depth = 0;
  let quoted = false;
  let current = "";
  for (const ch of body.replace(/^\s*\/\/.*$/gm, "")) {
    if (ch === "'") quoted = !quoted;
    if (!quoted && "{[(".includes(ch)) depth++;
    if (!quoted && "}])".includes(ch)) depth--;
    if (!quoted && depth === 0 && (ch === "," || ch === "\n")) {
      segments.push(current);
      current = "";
    } else {
      current += ch;
    }
  }
  segments.push(current);
  return segments.map((seg) => /^\s*'?([A-Za-z_][\w-]*)'?\s*:/.exec(seg)?.[1]).filter((k): k is string => !!k);
}

function objectEntries(body: string): Record<string, string> {
  const entries: Record<string, string> = {};
  for (const line of body.split("\n")) {
    const match = /^\s*([A-Za-z_][\w]*)\s*:\s*(.+?)\s*$/.exec(line);
    if (match) entries[match[1]] = match[2];
  }
  return entries;
}

const PLATFORM_SETTINGS = new Set([
  "AzureWebJobsStorage",
  "AzureWebJobsStorage__accountName",
  "AzureWebJobsStorage__credential",
  "AzureWebJobsStorage__clientId",
  "FUNCTIONS_WORKER_RUNTIME",
  "APPLICATIONINSIGHTS_CONNECTION_STRING",
  "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
]);
const KNOWN = new Set<string>([...Object.values(SETTINGS), ...PLATFORM_SETTINGS]);
const codeSettings = objectEntries(block(main, "appSettings:"));
const platformSettings = topLevelKeys(block(modules["app/api.bicep"], "properties: union(appSettings,"));

describe("app settings", () => {
  it("supply every setting the deployed app needs, by the names the code reads", () => {
    for (const name of [
      SETTINGS.secretKey,
      SETTINGS.postgresHost,
      SETTINGS.postgresDatabase,
      SETTINGS.postgresUser,
      SETTINGS.webPubSubEndpoint,
      SETTINGS.webPubSubHub,
      SETTINGS.webPubSubEventHandlerKey,
      SETTINGS.azureClientId,
      SETTINGS.dbMigrateOnStart,
    ]) {
      expect(Object.keys(codeSettings), name).toContain(name);
    }
    expect(platformSettings).toEqual(expect.arrayContaining(["AzureWebJobsStorage__accountName", "AzureWebJobsStorage__credential", "AzureWebJobsStorage__clientId", "APPLICATIONINSIGHTS_AUTHENTICATION_STRING"]));
    expect(platformSettings).not.toContain("AzureWebJobsStorage__blobServiceUri");
  });

  it("use no name the code does not know", () => {
    for (const name of [...Object.keys(codeSettings), ...platformSettings]) expect(KNOWN.has(name), name).toBe(true);
  });

  it("take secrets from Key Vault and never a database password or connection string", () => {
    expect(codeSettings[SETTINGS.secretKey]).toMatch(/^'@Microsoft\.KeyVault\(SecretUri=\$\{keyVault\.outputs\.jwtSecretUri\}\)'$/);
    expect(codeSettings[SETTINGS.webPubSubEventHandlerKey]).toMatch(/^'@Microsoft\.KeyVault\(SecretUri=/);
    expect(Object.keys(codeSettings)).not.toContain(SETTINGS.databaseUrl);
    expect(Object.keys(codeSettings)).not.toContain(SETTINGS.webPubSubConnectionString);
    expect(allBicep).not.toMatch(/administratorLoginPassword/);
  });

  it("pass the app's own validation once Azure resolves them", () => {
    // Key Vault references resolve to the secret; a bare parameter to its default; other expressions to a sample value.
    const paramDefault = (name: string) => new RegExp(`^param ${name} (?:string|int) = '?([^'\\s]*)'?`, "m").exec(main)?.[1];
    const resolve = (value: string) => {
      if (value.startsWith("'@Microsoft.KeyVault")) return "resolved-secret-value-from-key-vault-0123456789";
      if (value.startsWith("'")) return value.slice(1, -1);
      const parameter = /^(?:string\()?(\w+)\)?$/.exec(value)?.[1];
      return (parameter && paramDefault(parameter)) ?? `sample-${value.replace(/\W+/g, "-")}`;
    };
    const resolved = Object.fromEntries(Object.entries(codeSettings).map(([name, value]) => [name, resolve(value)]));
    resolved[SETTINGS.webPubSubEndpoint] = "https://wps-abc.webpubsub.azure.com";
    const config = parseConfig(resolved);
    expect(config.database.kind).toBe("entra");
    expect(config.webPubSub.kind).toBe("identity");
    expect(config.migrateOnStart).toBe(true);
    expect(config.pool.max).toBe(2);
    expect(config.accessTokenExpireMinutes).toBe(30);
  });
});

describe("local.settings.example.json", () => {
  const example = JSON.parse(read("local.settings.example.json")) as { IsEncrypted: boolean; Values: Record<string, string>; Host: Record<string, unknown> };

  it("supplies the local settings, only known names, and passes validation", () => {
    for (const name of [SETTINGS.secretKey, SETTINGS.databaseUrl, SETTINGS.webPubSubConnectionString, SETTINGS.webPubSubHub, SETTINGS.webPubSubEventHandlerKey]) {
      expect(Object.keys(example.Values), name).toContain(name);
    }
    for (const name of Object.keys(example.Values)) expect(KNOWN.has(name), name).toBe(true);
    expect(example.Values.FUNCTIONS_WORKER_RUNTIME).toBe("node");
    expect(example.Values.AzureWebJobsStorage).toBe("UseDevelopmentStorage=true");
    const config = parseConfig(example.Values);
    expect(config.webPubSub.kind).toBe("connectionString");
    expect(example.Values.SECRET_KEY).toMatch(/local|development/);
  });

  it("allows the usual local frontend origins and uses port 7071", () => {
    expect(example.IsEncrypted).toBe(false);
    expect(String(example.Host.CORS).split(",")).toEqual(expect.arrayContaining(["http://localhost:3000", "http://localhost:5173"]));
    expect(example.Host.LocalHttpPort).toBe(7071);
  });

  it("is the only place besides shared/config that reads settings: the code reads the environment nowhere else", () => {
    const readers: string[] = [];
    for (const dir of ["functions", "shared"]) {
      for (const file of readdirSync(path.join(ROOT, dir))) {
        if (/process\.env\b/.test(read(`${dir}/${file}`))) readers.push(`${dir}/${file}`);
      }
    }
    expect(readers.sort()).toEqual(["shared/config.ts", "shared/migrate-cli.ts"]);
  });
});

describe("Bicep modules", () => {
  const uses = [...main.matchAll(/module\s+(\w+)\s+'([^']+)'/g)].map((m) => ({ symbol: m[1], file: m[2] }));

  it("exist, and receive exactly the parameters they declare, with every required one", () => {
    expect(uses.length).toBeGreaterThanOrEqual(8);
    for (const { symbol, file } of uses) {
      const source = modules[file];
      expect(source, file).toBeDefined();
      const declared = [...source.matchAll(/^param\s+(\w+)\s+\w+(\s*=)?/gm)];
      const passed = topLevelKeys(block(block(main, new RegExp(`module\\s+${symbol}\\s`)), "params:"));
      for (const name of passed) expect(declared.map((d) => d[1]), `${file} param ${name}`).toContain(name);
      for (const [, name, hasDefault] of declared) if (!hasDefault) expect(passed, `${file} needs ${name}`).toContain(name);
    }
  });

  it("read only outputs their modules declare", () => {
    for (const [, symbol, output] of allBicep.matchAll(/\b(\w+)\.outputs\.(\w+)/g)) {
      const use = uses.find((u) => u.symbol === symbol);
      if (!use) continue; // an output of a registry module or resource, not ours
      expect(modules[use.file], `${symbol}.outputs.${output}`).toMatch(new RegExp(`^output\\s+${output}\\s`, "m"));
    }
  });
});

describe("resources", () => {
  it("a Flex Consumption function app on Linux, Node 22, deployed from blob storage with the identity", () => {
    const api = modules["app/api.bicep"];
    expect(api).toMatch(/sku: \{ name: 'FC1', tier: 'FlexConsumption' \}/);
    expect(api).toMatch(/reserved: true/);
    expect(api).toMatch(/kind: 'functionapp,linux'/);
    expect(api).toMatch(/runtime: \{ name: 'node', version: '22' \}/);
    expect(api).toMatch(/type: 'blobContainer'/);
    expect(api).toMatch(/authentication: \{ type: 'UserAssignedIdentity'/);
    expect(api).toMatch(/param instanceMemoryMB int/);
    expect(api).toMatch(/param maximumInstanceCount int/);
    expect(api).toMatch(/'azd-service-name': 'api'/);
    expect(api).toMatch(/keyVaultReferenceIdentity: identityId/);
    expect(api).toMatch(/cors: \{ allowedOrigins: allowedOrigins, supportCredentials: false \}/);
    expect(main).toMatch(/param allowedOrigins string/);
  });

  it("one user-assigned identity, storage without shared keys, monitoring with Entra ingestion", () => {
    expect(modules["app/identity.bicep"]).toMatch(/Microsoft\.ManagedIdentity\/userAssignedIdentities/);
    expect(modules["app/api.bicep"]).toMatch(/type: 'UserAssigned'/);
    expect(modules["app/storage.bicep"]).toMatch(/allowSharedKeyAccess: false/);
    expect(modules["app/monitoring.bicep"]).toMatch(/Microsoft\.OperationalInsights\/workspaces/);
    expect(modules["app/monitoring.bicep"]).toMatch(/DisableLocalAuth: true/);
    expect(modules["app/rbac.bicep"]).toMatch(/3913510d-42f4-4e42-8a64-420c390055eb/); // Monitoring Metrics Publisher
    expect(modules["app/rbac.bicep"]).toMatch(/b7e6dc6d-f1e8-4753-8033-0f276bb0955b/); // Storage Blob Data Owner
  });

  it("PostgreSQL Flexible Server 16, Burstable B1ms, Entra only, TLS required, reachable from Azure", () => {
    const pg = modules["app/postgres.bicep"];
    expect(main).toMatch(/param postgresVersion string = '16'/);
    expect(main).toMatch(/param postgresSkuName string = 'Standard_B1ms'/);
    expect(main).toMatch(/param postgresSkuTier string = 'Burstable'/);
    expect(pg).toMatch(/Microsoft\.DBforPostgreSQL\/flexibleServers@/);
    expect(pg).toMatch(/activeDirectoryAuth: 'Enabled'/);
    expect(pg).toMatch(/passwordAuth: 'Disabled'/);
    expect(pg).toMatch(/name: 'require_secure_transport'\s+properties: \{ value: 'on'/);
    expect(pg).toMatch(/startIpAddress: '0\.0\.0\.0', endIpAddress: '0\.0\.0\.0'/);
    expect(pg).toMatch(/flexibleServers\/administrators@[\s\S]*principalType: 'ServicePrincipal'/);
    expect(pg).toMatch(/flexibleServers\/databases@/);
  });

  it("Web PubSub Free_F1 by default, local auth off, the identity as Service Owner, a hub that denies anonymous clients and calls the events function", () => {
    const wps = modules["app/webpubsub.bicep"];
    const hub = modules["app/webpubsub-hub.bicep"];
    expect(main).toMatch(/param webPubSubSku string = 'Free_F1'/);
    expect(main).toMatch(/@allowed\(\['Free_F1', 'Standard_S1'\]\)/);
    expect(wps).toMatch(/disableLocalAuth: true/);
    expect(wps).toMatch(/12cf5a90-567b-43ae-8102-96cf46c7d9b4/);
    expect(hub).toMatch(/anonymousConnectPolicy: 'deny'/);
    expect(hub).toMatch(/systemEvents: \['connected'\]/);
    const url = /urlTemplate: '([^']+)'/.exec(hub)?.[1];
    expect(url).toBe(`https://\${functionAppHostName}/webpubsub/events?${EVENT_HANDLER_KEY_PARAM}=\${eventHandlerKey}`);
    expect(read("functions/webpubsub-events.ts")).toContain('EVENTS_ROUTE = "webpubsub/events"');
  });

  it("Key Vault with RBAC holds the generated secrets, which the app may read", () => {
    const kv = modules["app/keyvault.bicep"];
    expect(kv).toMatch(/enableRbacAuthorization: true/);
    expect(kv).toMatch(/name: 'jwt-secret'/);
    expect(kv).toMatch(/name: 'webpubsub-event-handler-key'/);
    expect(kv).toMatch(/4633458b-17de-408a-b874-0445c86b69e6/); // Key Vault Secrets User
    expect(main).toMatch(/@secure\(\)\s+@minLength\(32\)[^\n]*\n[^\n]*\n?\s*param jwtSecret string/);
  });

  it("cannot open more database connections than a B1ms server accepts", () => {
    const fallback = (name: string) => Number(new RegExp(`\\$\\{${name}=(\\d+)\\}`).exec(read("infra/main.parameters.json"))?.[1]);
    const instances = fallback("MAXIMUM_INSTANCE_COUNT");
    const pool = fallback("DB_POOL_MAX");
    expect(Number(/param maximumInstanceCount int = (\d+)/.exec(main)?.[1])).toBe(instances);
    expect(Number(/param dbPoolMax int = (\d+)/.exec(main)?.[1])).toBe(pool);
    expect(codeSettings[SETTINGS.dbPoolMax]).toBe("string(dbPoolMax)");
    const B1MS_USABLE_CONNECTIONS = 50 - 3; // max_connections on B1ms, less those Azure reserves
    expect(instances * pool).toBeLessThanOrEqual(B1MS_USABLE_CONNECTIONS);
  });

  it("outputs what azd and a frontend need", () => {
    for (const output of ["API_URL", "SERVICE_API_URI", "SERVICE_API_NAME", "AZURE_FUNCTION_APP_NAME", "AZURE_KEY_VAULT_NAME", "AZURE_LOCATION", "AZURE_TENANT_ID"]) {
      expect(main).toMatch(new RegExp(`^output ${output} string`, "m"));
    }
  });
});

describe("main.parameters.json and azure.yaml", () => {
  it("parameters come from the azd environment, with no secret written in the file", () => {
    const raw = read("infra/main.parameters.json");
    const substituted = raw.replace(/\$\{(\w+)(?:=([^}]*))?\}/g, (_m, _name: string, fallback?: string) => fallback ?? "placeholder");
    const parameters = JSON.parse(substituted).parameters as Record<string, { value: unknown }>;
    const bicepParams = [...main.matchAll(/^param\s+(\w+)/gm)].map((m) => m[1]);
    for (const name of Object.keys(parameters)) expect(bicepParams, name).toContain(name);
    expect(raw).toContain('"jwtSecret": { "value": "${JWT_SECRET}" }');
    expect(raw).toContain('"webPubSubEventHandlerKey": { "value": "${WEBPUBSUB_EVENT_HANDLER_KEY}" }');
    expect(raw).toContain('"environmentName": { "value": "${AZURE_ENV_NAME}" }');
    expect(typeof parameters.maximumInstanceCount.value).toBe("number");
  });

  it("azure.yaml deploys one function service from the staged package and generates the secrets first", () => {
    const yaml = read("azure.yaml");
    expect(yaml).toMatch(/services:\s+api:\s+project: \.\s+language: ts\s+host: function/);
    expect(yaml).toMatch(/dist: \.deploy/);
    expect(yaml).toMatch(/preprovision:[\s\S]*run: node scripts\/azd-secrets\.mjs/);
    const pkg = JSON.parse(read("package.json")) as { scripts: Record<string, string> };
    expect(pkg.scripts.package).toBe("node scripts/package.mjs");
    expect(pkg.scripts.build).toBeDefined();
  });
});
