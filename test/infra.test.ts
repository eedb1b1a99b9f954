/**
 * There is no Bicep compiler and no Azure here, so these checks read infra/ and azure.yaml as text
 * and guard what the deployment depends on: every setting the code needs is supplied under the name
 * the code reads and no unknown one is; modules receive the parameters they declare; each resource
 * keeps the properties the design relies on; secrets are generated, never written down; and azd can
 * build and ship the app from a fresh clone.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_HUB, MIN_SECRET_LENGTH, parseConfig } from "../shared/config";
import { EVENT_HANDLER_KEY_PARAM } from "../shared/event-caller";
import { SETTINGS } from "../shared/settings";

const ROOT = path.resolve(__dirname, "..");
const read = (file: string) => readFileSync(path.join(ROOT, file), "utf8");

/** Bicep without `//` comments (a `//` inside a quoted string, as in a URL, stays). */
function stripComments(source: string): string {
  return source
    .split("\n")
    .map((line) => {
      let quoted = false;
      for (let i = 0; i < line.length; i++) {
        if (line[i] === "'") quoted = !quoted;
        if (!quoted && line[i] === "/" && line[i + 1] === "/") return line.slice(0, i).trimEnd();
      }
      return line;
    })
    .join("\n");
}

const main = stripComments(read("infra/main.bicep"));
const modules: Record<string, string> = Object.fromEntries(
  readdirSync(path.join(ROOT, "infra/app"))
    .filter((f) => f.endsWith(".bicep"))
    .map((f) => [`app/${f}`, stripComments(read(`infra/app/${f}`))]),
);
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

/** A `resource <symbol> '<type>@<version>' = ...` declaration: its type and body. */
function resource(source: string, symbol: string): { type: string; condition: string | undefined; body: string } {
  const match = new RegExp(`^resource\\s+${symbol}\\s+'([^'@]+)@[^']+'(?:\\s+existing)?\\s*=\\s*(?:if\\s*\\((.*)\\)\\s*)?\\{`, "m").exec(source);
  if (!match) throw new Error(`no resource ${symbol}`);
  return { type: match[1], condition: match[2], body: block(source, match[0]) };
}

/** Symbols listed in a body's `dependsOn: [...]`. */
const dependsOn = (body: string) => (/dependsOn:\s*\[([^\]]*)\]/.exec(body)?.[1] ?? "").split(/[\s,]+/).filter(Boolean);

/** Keys at the top level of a Bicep object body, on one line or many. */
function topLevelKeys(body: string): string[] {
  const segments: string[] = [];
  let depth = 0;
  let quoted = false;
  let current = "";
  for (const ch of body) {
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

/** `NAME: value` lines of a one-entry-per-line object body. */
function objectEntries(body: string): Record<string, string> {
  const entries: Record<string, string> = {};
  for (const line of body.split("\n")) {
    const match = /^\s*([A-Za-z_]\w*)\s*:\s*(.+?)\s*$/.exec(line);
    if (match) entries[match[1]] = match[2];
  }
  return entries;
}

/** The default of `param <name> <type> = <default>` in `source`, unquoted. */
function paramDefault(source: string, name: string): string | undefined {
  return new RegExp(`^param ${name} \\w+ = '?([^'\\n]*?)'?\\s*$`, "m").exec(source)?.[1];
}

/** The decorators stacked above `param <name>` in `source`. */
function decorators(source: string, name: string): string {
  const lines = source.split("\n");
  const at = lines.findIndex((l) => new RegExp(`^param ${name}\\s`).test(l));
  if (at < 0) throw new Error(`no param ${name}`);
  let first = at;
  while (first > 0 && lines[first - 1].startsWith("@")) first--;
  return lines.slice(first, at).join("\n");
}

const moduleUses = [...main.matchAll(/^module\s+(\w+)\s+'([^']+)'/gm)].map((m) => ({ symbol: m[1], file: m[2] }));
const moduleParams = (symbol: string) => objectEntries(block(block(main, new RegExp(`^module\\s+${symbol}\\s`, "m")), "params:"));

const api = modules["app/api.bicep"];
const codeSettings = objectEntries(block(main, "appSettings:"));
const platformSettings = topLevelKeys(block(api, "properties: union(appSettings,"));

/** Settings the platform reads, allowed in app settings besides the app's own. */
const PLATFORM_SETTINGS = new Set([
  "AzureWebJobsStorage__accountName",
  "AzureWebJobsStorage__credential",
  "AzureWebJobsStorage__clientId",
  "APPLICATIONINSIGHTS_CONNECTION_STRING",
  "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
]);
const KNOWN = new Set<string>([...Object.values(SETTINGS), ...PLATFORM_SETTINGS]);

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
      expect(Object.keys(codeSettings), name).toContain(name);
    }
    expect(platformSettings.sort()).toEqual([...PLATFORM_SETTINGS].sort());
  });

  it("use no name the code or the platform does not know, and none Flex Consumption rejects", () => {
    for (const name of [...Object.keys(codeSettings), ...platformSettings]) expect(KNOWN.has(name), name).toBe(true);
    // Flex Consumption takes the runtime from functionAppConfig and refuses these as app settings.
    expect(allBicep).not.toMatch(/FUNCTIONS_WORKER_RUNTIME|FUNCTIONS_EXTENSION_VERSION|WEBSITE_RUN_FROM_PACKAGE|WEBSITE_NODE_DEFAULT_VERSION/);
  });

  it("take secrets from Key Vault, and hold no password, access key or connection string", () => {
    expect(codeSettings[SETTINGS.secretKey]).toBe("'@Microsoft.KeyVault(SecretUri=${keyVault.outputs.jwtSecretUri})'");
    expect(codeSettings[SETTINGS.webPubSubEventHandlerKey]).toBe("'@Microsoft.KeyVault(SecretUri=${keyVault.outputs.eventHandlerKeyUri})'");
    expect(Object.keys(codeSettings)).not.toContain(SETTINGS.databaseUrl);
    expect(Object.keys(codeSettings)).not.toContain(SETTINGS.webPubSubConnectionString);
    expect(platformSettings).not.toContain("AzureWebJobsStorage");
    expect(allBicep).not.toMatch(/administratorLogin|listKeys\(|AccountKey=|primaryKey|listConnectionStrings/);
  });

  it("connect as the one identity: the database user, the client id, storage, monitoring and Key Vault", () => {
    expect(codeSettings[SETTINGS.postgresUser]).toBe("identity.outputs.name");
    expect(codeSettings[SETTINGS.azureClientId]).toBe("identity.outputs.clientId");
    expect(moduleParams("postgres").appIdentityName).toBe("identity.outputs.name");
    expect(moduleParams("postgres").appIdentityPrincipalId).toBe("identity.outputs.principalId");
    expect(moduleParams("api").identityId).toBe("identity.outputs.id");
    expect(moduleParams("api").identityClientId).toBe("identity.outputs.clientId");
    const platform = objectEntries(block(api, "properties: union(appSettings,"));
    expect(platform.AzureWebJobsStorage__accountName).toBe("storageAccountName");
    expect(platform.AzureWebJobsStorage__credential).toBe("'managedidentity'");
    expect(platform.AzureWebJobsStorage__clientId).toBe("identityClientId");
    expect(platform.APPLICATIONINSIGHTS_AUTHENTICATION_STRING).toBe("'ClientId=${identityClientId};Authorization=AAD'");
    expect(api).toMatch(/keyVaultReferenceIdentity: identityId/);
    expect(api).toMatch(/type: 'UserAssigned'\s+userAssignedIdentities: \{ '\$\{identityId\}': \{\} \}/);
  });

  it("pass the app's own validation once Azure resolves them", () => {
    // A Key Vault reference resolves to its secret, a parameter to its default, anything else to a sample.
    const resolve = (value: string) => {
      if (value.startsWith("'@Microsoft.KeyVault")) return "resolved-from-key-vault-0123456789abcdefghijklmnopqrstuvwxyz";
      if (value.startsWith("'")) return value.slice(1, -1);
      const parameter = /^(?:string\()?(\w+)\)?$/.exec(value)?.[1];
      return (parameter && paramDefault(main, parameter)) ?? `sample-${value.replace(/\W+/g, "-")}`;
    };
    const resolved = Object.fromEntries(Object.entries(codeSettings).map(([name, value]) => [name, resolve(value)]));
    resolved[SETTINGS.webPubSubEndpoint] = "https://wps-abc.webpubsub.azure.com";
    const config = parseConfig(resolved);
    expect(config.database.kind).toBe("entra");
    expect(config.database.kind === "entra" && config.database.ssl).toBe(true);
    expect(config.webPubSub.kind).toBe("identity");
    expect(config.migrateOnStart).toBe(true);
    expect(config.pool.max).toBe(Number(paramDefault(main, "dbPoolMax")));
    expect(config.accessTokenExpireMinutes).toBe(30);
    expect(config.hub).toBe(DEFAULT_HUB);
    expect(config.eventHandlerKey).toBeDefined();
  });

  it("are read only by shared/config (and the migrate command): no other code reads the environment", () => {
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
  it("are all used, and receive exactly the parameters they declare, with every required one", () => {
    expect(moduleUses.map((u) => u.file).sort()).toEqual(Object.keys(modules).sort());
    for (const { symbol, file } of moduleUses) {
      const source = modules[file];
      const declared = [...source.matchAll(/^param\s+(\w+)\s+\w+(\s*=)?/gm)];
      const passed = topLevelKeys(block(block(main, new RegExp(`^module\\s+${symbol}\\s`, "m")), "params:"));
      for (const name of passed) expect(declared.map((d) => d[1]), `${file} param ${name}`).toContain(name);
      for (const [, name, hasDefault] of declared) if (!hasDefault) expect(passed, `${file} needs ${name}`).toContain(name);
    }
  });

  it("read only outputs their modules declare", () => {
    const reads = [...main.matchAll(/\b(\w+)\.outputs\.(\w+)/g)];
    expect(reads.length).toBeGreaterThan(20);
    for (const [, symbol, output] of reads) {
      const use = moduleUses.find((u) => u.symbol === symbol);
      expect(use, symbol).toBeDefined();
      expect(modules[use!.file], `${symbol}.outputs.${output}`).toMatch(new RegExp(`^output\\s+${output}\\s`, "m"));
    }
  });

  it("put everything in the resource group rg-<environment>, tagged with the azd environment", () => {
    expect(main).toMatch(/^targetScope = 'subscription'/m);
    expect(JSON.parse(read("infra/abbreviations.json")).resourcesResourceGroups).toBe("rg-");
    expect(main).toMatch(/name: '\$\{abbrs\.resourcesResourceGroups\}\$\{environmentName\}'/);
    expect(main).toMatch(/var tags = \{ 'azd-env-name': environmentName \}/);
    for (const { symbol } of moduleUses) expect(block(main, new RegExp(`^module\\s+${symbol}\\s`, "m")), symbol).toMatch(/scope: rg\b/);
    for (const abbreviation of main.matchAll(/abbrs\.(\w+)/g)) expect(JSON.parse(read("infra/abbreviations.json")), abbreviation[1]).toHaveProperty(abbreviation[1]);
  });
});

describe("resources", () => {
  it("a Flex Consumption function app on Linux, Node 22, deployed from blob storage with the identity", () => {
    expect(resource(api, "plan").body).toMatch(/sku: \{ name: 'FC1', tier: 'FlexConsumption' \}/);
    expect(resource(api, "plan").body).toMatch(/reserved: true/);
    const site = resource(api, "functionApp");
    expect(site.type).toBe("Microsoft.Web/sites");
    expect(site.body).toMatch(/kind: 'functionapp,linux'/);
    expect(site.body).toMatch(/tags: union\(tags, \{ 'azd-service-name': 'api' \}\)/);
    expect(site.body).toMatch(/httpsOnly: true/);
    const config = block(site.body, "functionAppConfig:");
    expect(config).toMatch(/runtime: \{ name: 'node', version: '22' \}/);
    expect(config).toMatch(/type: 'blobContainer'/);
    expect(config).toMatch(/value: '\$\{storageBlobEndpoint\}\$\{deploymentContainerName\}'/);
    expect(config).toMatch(/authentication: \{ type: 'UserAssignedIdentity', userAssignedIdentityResourceId: identityId \}/);
    expect(config).toMatch(/scaleAndConcurrency: \{ instanceMemoryMB: instanceMemoryMB, maximumInstanceCount: maximumInstanceCount \}/);
    expect(moduleParams("api").instanceMemoryMB).toBe("instanceMemoryMB");
    expect(moduleParams("api").maximumInstanceCount).toBe("maximumInstanceCount");
    expect(decorators(main, "instanceMemoryMB")).toContain("@allowed([512, 2048, 4096])");
    expect(modules["app/storage.bicep"]).toMatch(/name: deploymentContainerName/);
  });

  it("browser origins from a parameter, without credentials", () => {
    expect(main).toMatch(/^param allowedOrigins string = '[^']*'/m);
    expect(main).toMatch(/var corsOrigins = map\(filter\(split\(allowedOrigins, ','\)/);
    expect(moduleParams("api").allowedOrigins).toBe("corsOrigins");
    expect(api).toMatch(/cors: \{ allowedOrigins: allowedOrigins, supportCredentials: false \}/);
    expect(read("infra/main.parameters.json")).toMatch(/"allowedOrigins": \{ "value": "\$\{ALLOWED_ORIGINS=[^}]+\}" \}/);
  });

  it("storage without shared keys, and the data roles the host needs", () => {
    const storage = resource(modules["app/storage.bicep"], "storage").body;
    expect(storage).toMatch(/allowSharedKeyAccess: false/);
    expect(storage).toMatch(/allowBlobPublicAccess: false/);
    const rbac = modules["app/rbac.bicep"];
    for (const role of [
      "b7e6dc6d-f1e8-4753-8033-0f276bb0955b", // Storage Blob Data Owner
      "974c5e8b-45b9-4653-ba55-5f855dd0fb88", // Storage Queue Data Contributor
      "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3", // Storage Table Data Contributor
      "3913510d-42f4-4e42-8a64-420c390055eb", // Monitoring Metrics Publisher
    ]) {
      expect(rbac).toContain(role);
    }
    expect(rbac.match(/principalId: appPrincipalId\s+principalType: 'ServicePrincipal'/g)).toHaveLength(2);
    expect(moduleParams("rbac").appPrincipalId).toBe("identity.outputs.principalId");
    expect(block(main, /^module\s+api\s/m)).toMatch(/dependsOn: \[rbac\]/);
  });

  it("Log Analytics and Application Insights that accept only Entra-authenticated telemetry", () => {
    const monitoring = modules["app/monitoring.bicep"];
    expect(resource(monitoring, "logAnalytics").type).toBe("Microsoft.OperationalInsights/workspaces");
    const insights = resource(monitoring, "applicationInsights").body;
    expect(insights).toMatch(/DisableLocalAuth: true/);
    expect(insights).toMatch(/WorkspaceResourceId: logAnalytics\.id/);
  });

  it("one user-assigned identity", () => {
    expect(resource(modules["app/identity.bicep"], "identity").type).toBe("Microsoft.ManagedIdentity/userAssignedIdentities");
    expect(allBicep.match(/Microsoft\.ManagedIdentity\/userAssignedIdentities@/g)).toHaveLength(1);
    expect(allBicep).not.toMatch(/SystemAssigned/);
  });

  it("PostgreSQL Flexible Server 16, Burstable B1ms by default, Entra only, TLS required, reachable from Azure", () => {
    const pg = modules["app/postgres.bicep"];
    expect(paramDefault(main, "postgresVersion")).toBe("16");
    expect(paramDefault(main, "postgresSkuName")).toBe("Standard_B1ms");
    expect(main).toMatch(/var postgresSkuTier = startsWith\(postgresSkuName, 'Standard_B'\) \? 'Burstable'/);
    expect(moduleParams("postgres").skuTier).toBe("postgresSkuTier");
    const server = resource(pg, "server");
    expect(server.type).toBe("Microsoft.DBforPostgreSQL/flexibleServers");
    expect(server.body).toMatch(/sku: \{ name: skuName, tier: skuTier \}/);
    expect(server.body).toMatch(/activeDirectoryAuth: 'Enabled'/);
    expect(server.body).toMatch(/passwordAuth: 'Disabled'/);
    expect(resource(pg, "requireTls").body).toMatch(/name: 'require_secure_transport'\s+properties: \{ value: 'on'/);
    expect(resource(pg, "allowAzureServices").body).toMatch(/startIpAddress: '0\.0\.0\.0', endIpAddress: '0\.0\.0\.0'/);
    expect(resource(pg, "database").type).toBe("Microsoft.DBforPostgreSQL/flexibleServers/databases");
  });

  it("PostgreSQL: the app's identity is the first Entra administrator and so owns the database; the deployer is a second one", () => {
    const pg = modules["app/postgres.bicep"];
    const appAdmin = resource(pg, "appAdmin");
    expect(appAdmin.type).toBe("Microsoft.DBforPostgreSQL/flexibleServers/administrators");
    expect(appAdmin.body).toMatch(/name: appIdentityPrincipalId/);
    expect(appAdmin.body).toMatch(/principalType: 'ServicePrincipal'/);
    expect(appAdmin.body).toMatch(/principalName: appIdentityName/);
    // A database created before any administrator exists belongs to the platform's superuser.
    expect(dependsOn(resource(pg, "database").body)).toEqual(["appAdmin"]);
    const deployerAdmin = resource(pg, "deployerAdmin");
    expect(deployerAdmin.condition).toBe("!empty(deployerObjectId) && !empty(deployerUserPrincipalName)");
    expect(deployerAdmin.body).toMatch(/principalType: 'User'/);
    expect(deployerAdmin.body).toMatch(/principalName: deployerUserPrincipalName/);
    // The server takes one change at a time: every child waits for the one before.
    expect(dependsOn(resource(pg, "requireTls").body)).toEqual(["allowAzureServices"]);
    expect(dependsOn(resource(pg, "appAdmin").body)).toEqual(["requireTls"]);
    expect(dependsOn(deployerAdmin.body)).toEqual(["database"]);
    expect(moduleParams("postgres").deployerObjectId).toBe("deployer().objectId");
    expect(main).toMatch(/var deployerUserPrincipalName = any\(deployer\(\)\)\.\?userPrincipalName \?\? ''/);
  });

  it("Web PubSub: Free_F1 by default, local auth off, the identity as Service Owner", () => {
    const wps = modules["app/webpubsub.bicep"];
    expect(paramDefault(main, "webPubSubSku")).toBe("Free_F1");
    expect(decorators(main, "webPubSubSku")).toContain("@allowed(['Free_F1', 'Standard_S1'])");
    expect(moduleParams("webPubSub").skuName).toBe("webPubSubSku");
    const service = resource(wps, "service");
    expect(service.type).toBe("Microsoft.SignalRService/webPubSub");
    expect(service.body).toMatch(/disableLocalAuth: true/);
    expect(wps).toMatch(/var webPubSubServiceOwner = '12cf5a90-567b-43ae-8102-96cf46c7d9b4'/);
    expect(resource(wps, "appOwnsService").body).toMatch(/principalId: appPrincipalId\s+principalType: 'ServicePrincipal'\s+roleDefinitionId: subscriptionResourceId\('Microsoft\.Authorization\/roleDefinitions', webPubSubServiceOwner\)/);
    expect(modules["app/webpubsub.bicep"]).toMatch(/output endpoint string = 'https:\/\/\$\{service\.properties\.hostName\}'/);
    expect(codeSettings[SETTINGS.webPubSubEndpoint]).toBe("webPubSub.outputs.endpoint");
  });

  it("the hub denies anonymous clients and sends `connected` to the events function, authenticated by the key", () => {
    const hub = resource(modules["app/webpubsub-hub.bicep"], "hub");
    expect(hub.type).toBe("Microsoft.SignalRService/webPubSub/hubs");
    expect(hub.body).toMatch(/anonymousConnectPolicy: 'deny'/);
    expect(hub.body).toMatch(/systemEvents: \['connected'\]/);
    expect(hub.body).toMatch(/userEventPattern: ''/);
    const route = /EVENTS_ROUTE = "([^"]+)"/.exec(read("functions/webpubsub-events.ts"))?.[1];
    expect(route).toBe("webpubsub/events");
    const url = /urlTemplate: '([^']+)'/.exec(hub.body)?.[1];
    expect(url).toBe(`https://\${functionAppHostName}/${route}?${EVENT_HANDLER_KEY_PARAM}=\${uriComponent(eventHandlerKey)}`);
    // The hub carries the same key the app reads from Key Vault, and its name is the app's hub.
    expect(moduleParams("hub").eventHandlerKey).toBe("webPubSubEventHandlerKey");
    expect(moduleParams("keyVault").eventHandlerKey).toBe("webPubSubEventHandlerKey");
    expect(moduleParams("hub").functionAppHostName).toBe("api.outputs.defaultHostName");
    expect(moduleParams("hub").hubName).toBe("webPubSubHub");
    expect(codeSettings[SETTINGS.webPubSubHub]).toBe("webPubSubHub");
    expect(paramDefault(main, "webPubSubHub")).toBe(DEFAULT_HUB);
  });

  it("Key Vault with RBAC holds the two secrets; the app may read them, the deployer manage them", () => {
    const kv = modules["app/keyvault.bicep"];
    expect(resource(kv, "vault").body).toMatch(/enableRbacAuthorization: true/);
    const jwt = resource(kv, "jwtSecretEntry").body;
    expect(jwt).toMatch(/name: 'jwt-secret'\s+properties: \{ value: jwtSecret \}/);
    expect(resource(kv, "eventHandlerKeyEntry").body).toMatch(/name: 'webpubsub-event-handler-key'\s+properties: \{ value: eventHandlerKey \}/);
    expect(kv).toMatch(/^output jwtSecretUri string = jwtSecretEntry\.properties\.secretUri$/m);
    expect(kv).toMatch(/^output eventHandlerKeyUri string = eventHandlerKeyEntry\.properties\.secretUri$/m);
    expect(kv).toMatch(/var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'/);
    expect(kv).toMatch(/var keyVaultSecretsOfficer = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'/);
    expect(resource(kv, "appReadsSecrets").body).toMatch(/principalId: appPrincipalId[\s\S]*keyVaultSecretsUser/);
    expect(resource(kv, "deployerManagesSecrets").condition).toBe("!empty(deployerPrincipalId)");
    expect(moduleParams("keyVault").jwtSecret).toBe("jwtSecret");
    expect(moduleParams("keyVault").deployerPrincipalId).toBe("principalId");
  });

  it("cannot open more database connections than a B1ms server accepts, at a scale Flex Consumption allows", () => {
    const fallback = (name: string) => Number(new RegExp(`\\$\\{${name}=(\\d+)\\}`).exec(read("infra/main.parameters.json"))?.[1]);
    const instances = Number(paramDefault(main, "maximumInstanceCount"));
    const pool = Number(paramDefault(main, "dbPoolMax"));
    expect(fallback("MAXIMUM_INSTANCE_COUNT")).toBe(instances);
    expect(fallback("DB_POOL_MAX")).toBe(pool);
    expect(codeSettings[SETTINGS.dbPoolMax]).toBe("string(dbPoolMax)");
    const B1MS_USABLE_CONNECTIONS = 50 - 3; // max_connections on B1ms, less those Azure reserves
    expect(instances * pool).toBeLessThanOrEqual(B1MS_USABLE_CONNECTIONS);
    const FLEX_LOWEST_MAXIMUM = 40; // the lowest maximum instance count most regions accept
    expect(instances).toBeGreaterThanOrEqual(FLEX_LOWEST_MAXIMUM);
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
      expect(main).toMatch(new RegExp(`^output ${output} string = `, "m"));
    }
    expect(main).toMatch(/^output SERVICE_API_URI string = api\.outputs\.uri$/m);
    expect(api).toMatch(/^output uri string = 'https:\/\/\$\{functionApp\.properties\.defaultHostName\}'$/m);
    // No secret leaves the deployment as an output (azd stores outputs in plain text).
    const outputs = allBicep.split("\n").filter((line) => line.startsWith("output "));
    for (const line of outputs) expect(line).not.toMatch(/= .*\b(jwtSecret|eventHandlerKey|webPubSubEventHandlerKey)\b/);
  });
});

describe("secrets", () => {
  const raw = read("infra/main.parameters.json");
  const parameters = JSON.parse(raw).parameters as Record<string, { value: unknown }>;
  const SECRET_PARAMS = { jwtSecret: "JWT_SECRET", webPubSubEventHandlerKey: "WEBPUBSUB_EVENT_HANDLER_KEY" };

  it("are generated once by azd, long enough for the app, and URL-safe", () => {
    for (const name of Object.keys(SECRET_PARAMS)) {
      const stack = decorators(main, name);
      expect(stack, name).toContain("@secure()");
      expect(main, name).toMatch(new RegExp(`^param ${name} string$`, "m")); // no default: never newGuid()-rotated
      expect(Number(/@minLength\((\d+)\)/.exec(stack)?.[1]), name).toBeGreaterThanOrEqual(MIN_SECRET_LENGTH);
      const generate = /@metadata\(\{ azd: \{ type: 'generate', config: \{ length: (\d+), noSpecial: true \} \} \}\)/.exec(stack);
      expect(generate, name).not.toBeNull();
      expect(Number(generate![1]), name).toBeGreaterThanOrEqual(MIN_SECRET_LENGTH);
    }
  });

  it("are never written in the parameters file: only an optional override from the azd environment", () => {
    for (const [name, variable] of Object.entries(SECRET_PARAMS)) expect(parameters[name].value).toBe(`\${${variable}}`);
    // Every value is an azd substitution; only non-secret settings carry a fallback.
    for (const [name, { value }] of Object.entries(parameters)) {
      expect(value, name).toMatch(/^\$\{[A-Z_]+(?:=[^}]*)?\}$/);
      expect(String(value), name).not.toMatch(/=[A-Za-z0-9+/_-]{24,}\}$/);
    }
  });

  it("the parameters file is plain JSON as written (azd parses it before substituting) and names real parameters", () => {
    expect(() => JSON.parse(raw)).not.toThrow();
    expect(raw).not.toMatch(/:\s*\$\{/); // an unquoted ${...} makes the file invalid JSON for azd
    const bicepParams = [...main.matchAll(/^param\s+(\w+)\s+\w+(\s*=)?/gm)];
    for (const name of Object.keys(parameters)) expect(bicepParams.map((p) => p[1]), name).toContain(name);
    for (const [, name, hasDefault] of bicepParams) if (!hasDefault) expect(Object.keys(parameters), name).toContain(name);
    expect(parameters.environmentName.value).toBe("${AZURE_ENV_NAME}");
    expect(parameters.location.value).toBe("${AZURE_LOCATION}");
    expect(parameters.principalId.value).toBe("${AZURE_PRINCIPAL_ID}");
  });
});

describe("azure.yaml and its hooks", () => {
  const yaml = read("azure.yaml");
  /** The lines indented under `key:` at `indent` spaces (a small subset of YAML, enough for this file). */
  const section = (text: string, key: string, indent: number) => {
    const lines = text.split("\n");
    const start = lines.findIndex((l) => l === `${" ".repeat(indent)}${key}:`);
    if (start < 0) throw new Error(`no ${key}: at indent ${indent}`);
    const body: string[] = [];
    for (const line of lines.slice(start + 1)) {
      if (line.trim() && !line.startsWith(" ".repeat(indent + 1))) break;
      body.push(line);
    }
    return body.join("\n");
  };
  /** `key: value` lines at exactly `indent` spaces. */
  const scalars = (text: string, indent: number) => {
    const found: Record<string, string> = {};
    for (const line of text.split("\n")) {
      const match = new RegExp(`^ {${indent}}([\\w-]+): (.+)$`).exec(line);
      if (match) found[match[1]] = match[2];
    }
    return found;
  };

  const service = section(section(yaml, "services", 0), "api", 2);

  it("deploys one function service, api, built from this folder", () => {
    expect(section(yaml, "services", 0).split("\n").filter((l) => /^ {2}\w/.test(l))).toEqual(["  api:"]);
    expect(scalars(service, 4)).toMatchObject({ project: ".", language: "ts", host: "function", dist: ".deploy", remoteBuild: "false" });
  });

  it("ships the staged production package: the prepackage hook installs, builds and stages it", () => {
    const prepackage = section(section(service, "hooks", 4), "prepackage", 6);
    for (const os of ["posix", "windows"]) {
      expect(scalars(section(prepackage, os, 8), 10), os).toMatchObject({ run: "node infra/hooks/prepackage.mjs", continueOnError: "false" });
    }
    const hook = read("infra/hooks/prepackage.mjs");
    const steps = [...hook.matchAll(/\["(ci|run)"(?:, "([\w:-]+)")?/g)].map((m) => (m[1] === "ci" ? "ci" : `run ${m[2]}`));
    expect(steps).toEqual(["ci", "run build", "run package"]);
    const pkg = JSON.parse(read("package.json")) as { scripts: Record<string, string> };
    expect(pkg.scripts.build).toMatch(/tsc -p tsconfig\.build\.json/);
    expect(pkg.scripts.package).toBe("node scripts/package.mjs");
    const stage = read("scripts/package.mjs");
    expect(stage).toMatch(/path\.join\(root, "\.deploy"\)/);
    expect(stage).toMatch(/"--omit=dev"/);
  });

  it("keeps node_modules in the package, as remoteBuild: false requires of .funcignore", () => {
    const ignored = read(".funcignore").split("\n").map((l) => l.trim());
    expect(ignored.filter((l) => /^\/?node_modules\/?\**$/.test(l))).toEqual([]);
  });

  it("checks the deployed app without ever failing the deployment", () => {
    const postdeploy = section(section(yaml, "hooks", 0), "postdeploy", 2);
    for (const os of ["posix", "windows"]) {
      expect(scalars(section(postdeploy, os, 4), 6), os).toMatchObject({ run: "node infra/hooks/postdeploy.mjs", continueOnError: "true" });
    }
    const hook = read("infra/hooks/postdeploy.mjs");
    expect(hook).toMatch(/process\.env\.SERVICE_API_URI/);
    expect(hook).toMatch(/call\("\/health"\)/);
    expect(hook).toMatch(/call\("\/token", \{ method: "POST"/);
    expect(hook).not.toMatch(/process\.exit\([^0)]/);
  });

  it("runs only hook files that exist", () => {
    const runs = [...yaml.matchAll(/run: node (\S+)/g)].map((m) => m[1]);
    expect(runs.length).toBe(4);
    for (const file of runs) expect(existsSync(path.join(ROOT, file)), file).toBe(true);
  });
});
