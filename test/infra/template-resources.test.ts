/**
 * The compiled template's resources, their properties, dependsOn and outputs. Needs a Bicep CLI (test/support/needs-tool.ts).
 */
import { describe, expect, it } from "vitest";

import { EVENTS_ROUTE } from "../../functions/webpubsub-events";
import { DEFAULT_HUB } from "../../shared/config/config";
import { SETTINGS } from "../../shared/config/settings";
import { MIGRATIONS } from "../../shared/data/migrations";
import { EVENT_HANDLER_KEY_PARAM } from "../../shared/realtime/event-caller";
import { BICEP, describeWithTool } from "../support/needs-tool";

describeWithTool(
  BICEP,
  "test/infra/template-resources.test.ts",
  "the deployed resources",
  () => import("../support/compiled-infra.js"),
  ({
    read,
    deployments,
    module,
    simplify,
    resourcesOf,
    one,
    allModules,
    everything,
    api,
    appSettings,
    site,
    MAX_CONNECTIONS,
    WEBPUBSUB_UNITS,
    RESERVED,
    MIGRATION_CONNECTIONS,
    connectionPeak,
    defaults,
    template,
  }) => {
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
        expect(template.variables!.postgresSkuTier).toMatch(
          /^\[if\(startsWith\(parameters\('postgresSkuName'\), 'Standard_B'\), 'Burstable'/,
        );
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

      it("PostgreSQL allow-lists every extension the migrations create, before the database (and the app migrating it) exists", () => {
        const pg = module("postgres");
        const created = MIGRATIONS.flatMap((m) => [...(m.sql ?? "").matchAll(/CREATE EXTENSION IF NOT EXISTS (\w+)/gi)].map((x) => x[1]));
        expect(created).toContain("btree_gist");
        const configurations = resourcesOf(pg.template, "Microsoft.DBforPostgreSQL/flexibleServers/configurations");
        const allowed = configurations.find((c) => c.name.includes("'azure.extensions'"));
        expect(allowed?.properties).toEqual({ value: created.map((e) => e.toUpperCase()).join(","), source: "user-override" });
        // The server's children run one after another (the test below): the database comes later.
        const children = pg.template.resources.filter((r) => r.type.startsWith("Microsoft.DBforPostgreSQL/flexibleServers/"));
        const database = children.findIndex((r) => r.type === "Microsoft.DBforPostgreSQL/flexibleServers/databases");
        expect(children.indexOf(allowed!)).toBeGreaterThan(-1);
        expect(children.indexOf(allowed!)).toBeLessThan(database);
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
        expect(deployerAdmin.properties).toMatchObject({
          principalType: "User",
          principalName: "[parameters('deployerUserPrincipalName')]",
        });
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
        expect(service.identity).toEqual({
          type: "UserAssigned",
          userAssignedIdentities: { "[format('{0}', parameters('identityId'))]": {} },
        });
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
        expect(webPubSub.scope).toBe(
          "[resourceId('Microsoft.KeyVault/vaults/secrets', parameters('name'), 'webpubsub-event-handler-key')]",
        );
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
  },
);
