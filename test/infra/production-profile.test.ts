/**
 * The template's production profile, read from infra/main.bicep as the Bicep CLI compiles it and as
 * Azure would deploy it for each value of its switches (test/support/arm-specialize.ts evaluates the
 * conditions and `if(...)` expressions that depend on them): the Web PubSub tier, Key Vault purge
 * protection, diagnostic settings, no basic publishing credentials, the attachments account and its
 * malware scanning, private networking on and off. Skipped where no Bicep CLI can be had (test/support/needs-tool.ts; never with CI set).
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

import { SETTINGS } from "../../shared/config/settings";
import { specialize } from "../support/arm-specialize";
import { BICEP, skipWithout } from "../support/needs-tool";

const ROOT = path.resolve(__dirname, "../..");
const read = (file: string) => readFileSync(path.join(ROOT, file), "utf8");
/** A doc with its line breaks as spaces, to match sentences that wrap. */
const prose = (file: string) => read(file).replace(/\s+/g, " ");
const skip = skipWithout(BICEP, "test/infra/production-profile.test.ts");

interface Resource {
  type: string;
  name: string;
  condition?: unknown;
  copy?: { name: string; count: unknown };
  scope?: string;
  dependsOn?: string[];
  sku?: Record<string, unknown>;
  properties: Record<string, unknown> & { template?: Template; parameters?: Record<string, { value: unknown }> };
}
interface Template {
  parameters: Record<string, { type: string; defaultValue?: unknown; allowedValues?: unknown[]; metadata?: { description?: string } }>;
  variables?: Record<string, unknown>;
  resources: Resource[];
  outputs: Record<string, { value: unknown }>;
}

describe.skipIf(skip)("the production profile of infra/main.bicep", async () => {
  // vitest still runs a skipped suite's body to list its tests: compile only when they run.
  const compiled = skip
    ? ({ parameters: {}, resources: [], outputs: {} } as Template)
    : ((await import("../support/compiled-infra.js")).template as unknown as Template);
  const PARAMETERS = JSON.parse(read("infra/main.parameters.json")) as { parameters: Record<string, { value: string }> };
  /** The template as deployed with these switches (defaults for the rest). */
  const deployed = (values: { privateNetworking?: boolean; malwareScanning?: boolean; webPubSubSku?: string } = {}) =>
    specialize(compiled, {
      privateNetworking: compiled.parameters.privateNetworking.defaultValue as boolean,
      malwareScanning: compiled.parameters.malwareScanning.defaultValue as boolean,
      ...values,
    });
  const moduleOf = (t: Template, name: string) => {
    const found = t.resources.find((r) => r.type === "Microsoft.Resources/deployments" && r.name === name);
    if (!found) throw new Error(`no module ${name}`);
    return {
      // A parameter passed conditionally compiles to `[if(c, createObject('value', a), createObject('value', b))]`.
      params: Object.fromEntries(
        Object.entries(found.properties.parameters ?? {}).map(([k, v]) => [
          k,
          typeof v === "string" ? (v as string).replace(/^\[createObject\('value', (.*)\)\]$/, "[$1]") : v.value,
        ]),
      ),
      template: found.properties.template!,
    };
  };
  const ofType = (t: Template, type: string) => t.resources.filter((r) => r.type === type);
  const one = (t: Template, type: string) => {
    const found = ofType(t, type);
    if (found.length !== 1) throw new Error(`${found.length} of ${type}`);
    return found[0];
  };
  const appSettings = (t: Template) => moduleOf(t, "api").params.appSettings as Record<string, unknown>;

  describe("Web PubSub (issue 23, point 8)", () => {
    it("is Standard_S1 by default, in the template and as azd passes it; Free_F1 stays allowed, documented for trials with its two quotas", () => {
      const sku = compiled.parameters.webPubSubSku;
      expect(sku.defaultValue).toBe("Standard_S1");
      expect(sku.allowedValues).toContain("Free_F1");
      expect(PARAMETERS.parameters.webPubSubSku.value).toBe("${WEBPUBSUB_SKU=Standard_S1}");
      expect(sku.metadata?.description).toMatch(/Free_F1 is for trials only: 20 concurrent connections and 20 000 messages a day/);
      expect(sku.metadata?.description).toMatch(/Standard_S1 \(the default\).*1 000 concurrent connections a unit/);
      const service = one(moduleOf(compiled, "webpubsub").template, "Microsoft.SignalRService/webPubSub");
      expect(service.sku).toMatchObject({ name: "[parameters('skuName')]" });
      expect(moduleOf(compiled, "webpubsub").template.parameters.skuName.defaultValue).toBe("Standard_S1");
      const deploy = prose("docs/deploy.md");
      expect(deploy).toMatch(/\| Azure Web PubSub \| \*\*Standard_S1\*\*, 1 unit \(1 000 concurrent connections/);
      expect(deploy).toContain(
        "`Free_F1` costs nothing and is meant for trials only: **20 concurrent connections and 20 000 messages a day**",
      );
    });
  });

  describe("hardening (issue 23, point 9)", () => {
    it("Key Vault: purge protection on (with soft delete and RBAC)", () => {
      const vault = one(moduleOf(compiled, "keyvault").template, "Microsoft.KeyVault/vaults");
      expect(vault.properties).toMatchObject({ enablePurgeProtection: true, enableSoftDelete: true, enableRbacAuthorization: true });
    });

    it("Key Vault, PostgreSQL, Web PubSub and the Function App send their logs to the Log Analytics workspace", () => {
      const workspace = "[monitoring.outputs.logAnalyticsId]";
      const monitoring = moduleOf(compiled, "monitoring").template;
      expect(JSON.stringify(monitoring.outputs.logAnalyticsId.value)).toContain("Microsoft.OperationalInsights/workspaces");
      const expected: Record<string, { target: string; logs: unknown[] }> = {
        keyvault: { target: "Microsoft.KeyVault/vaults", logs: [{ categoryGroup: "allLogs", enabled: true }] },
        postgres: { target: "Microsoft.DBforPostgreSQL/flexibleServers", logs: [{ categoryGroup: "allLogs", enabled: true }] },
        webpubsub: { target: "Microsoft.SignalRService/webPubSub", logs: [{ categoryGroup: "allLogs", enabled: true }] },
        api: { target: "Microsoft.Web/sites", logs: [{ category: "FunctionAppLogs", enabled: true }] },
      };
      for (const [name, { target, logs }] of Object.entries(expected)) {
        const m = moduleOf(compiled, name);
        expect(
          String(m.params.logAnalyticsWorkspaceId).replace(
            /reference\(.*'monitoring'\), '[^']+'\)\.outputs\.(\w+)\.value/,
            "monitoring.outputs.$1",
          ),
          name,
        ).toBe(workspace);
        const setting = one(m.template, "Microsoft.Insights/diagnosticSettings");
        expect(setting.scope, name).toMatch(
          new RegExp(`^\\[format\\('${target.replace(/[./]/g, "\\$&")}/|resourceId\\('${target.replace(/[./]/g, "\\$&")}'`),
        );
        expect(setting.properties, name).toEqual({ workspaceId: "[parameters('logAnalyticsWorkspaceId')]", logs });
      }
    });

    it("basic publishing credentials off for both scm and ftp", () => {
      const policies = ofType(moduleOf(compiled, "api").template, "Microsoft.Web/sites/basicPublishingCredentialsPolicies");
      expect(policies.map((p) => [p.name.match(/'(\w+)'\)\]$/)?.[1] ?? p.name, p.properties]).sort()).toEqual([
        ["ftp", { allow: false }],
        ["scm", { allow: false }],
      ]);
    });
  });

  describe("attachments (issue 26, point 4)", () => {
    const attachments = () => moduleOf(deployed(), "attachments");
    const roles = { owner: "b7e6dc6d-f1e8-4753-8033-0f276bb0955b", delegator: "db58b8e5-c6ad-4a2a-8342-4190687cbf4a" };

    it("a dedicated account without shared keys or public blobs, and a private attachments container", () => {
      const t = attachments().template;
      const account = one(t, "Microsoft.Storage/storageAccounts");
      expect(account.properties).toMatchObject({ allowSharedKeyAccess: false, allowBlobPublicAccess: false, minimumTlsVersion: "TLS1_2" });
      const container = one(t, "Microsoft.Storage/storageAccounts/blobServices/containers");
      expect(container.properties).toEqual({ publicAccess: "None" });
      expect(t.parameters.containerName.defaultValue).toBe("attachments");
      // Not the Functions host's account, whose Blob Data Owner role covers every container in it.
      expect(attachments().params.name).not.toBe(moduleOf(compiled, "storage").params.name);
    });

    it("the app's data role at the container and Storage Blob Delegator at the account, the narrowest scopes Azure takes", () => {
      const t = attachments().template;
      const assignments = ofType(t, "Microsoft.Authorization/roleAssignments").map((r) => ({
        role: /storageBlobDataOwner/.test(String(r.properties.roleDefinitionId))
          ? "owner"
          : /storageBlobDelegator/.test(String(r.properties.roleDefinitionId))
            ? "delegator"
            : String(r.properties.roleDefinitionId),
        scope: r.scope,
        principal: r.properties.principalId,
      }));
      expect(assignments).toEqual([
        {
          role: "owner",
          scope:
            "[resourceId('Microsoft.Storage/storageAccounts/blobServices/containers', parameters('name'), 'default', parameters('containerName'))]",
          principal: "[parameters('appPrincipalId')]",
        },
        {
          role: "delegator",
          scope: "[resourceId('Microsoft.Storage/storageAccounts', parameters('name'))]",
          principal: "[parameters('appPrincipalId')]",
        },
      ]);
      expect(JSON.stringify(t.variables)).toContain(roles.owner);
      expect(JSON.stringify(t.variables)).toContain(roles.delegator);
      expect(attachments().params.appPrincipalId).toMatch(/'identity'.*principalId/);
    });

    it('CORS on the blob service for ALLOWED_ORIGINS: GET and PUT only, with the headers a browser upload sends; GET from the "null" origin a redirected download has; no rule without origins', () => {
      const blobService = one(attachments().template, "Microsoft.Storage/storageAccounts/blobServices");
      expect(blobService.properties.cors).toEqual({
        corsRules:
          "[if(empty(parameters('allowedOrigins')), createArray(), createArray(createObject('allowedOrigins', parameters('allowedOrigins'), 'allowedMethods', createArray('GET', 'PUT'), 'allowedHeaders', createArray('content-type', 'x-ms-blob-type', 'x-ms-*'), 'exposedHeaders', createArray('etag', 'x-ms-*'), 'maxAgeInSeconds', 3600), createObject('allowedOrigins', createArray('*'), 'allowedMethods', createArray('GET'), 'allowedHeaders', createArray('range'), 'exposedHeaders', createArray('etag', 'x-ms-*'), 'maxAgeInSeconds', 3600)))]",
      });
      expect(attachments().params.allowedOrigins).toBe("[variables('corsOrigins')]");
    });

    it("no lifecycle rule: none can tell an upload never attached from a file a message holds, so the app's sweep is the cleanup (docs/deploy.md says why)", () => {
      // A rule filters by blob type, name prefix and index tags (== only); every attachment is a
      // block blob under one prefix with no tag the uploader could not forge, so any rule deleting
      // by age would delete files messages still hold.
      for (const t of [deployed({ privateNetworking: false }), deployed({ privateNetworking: true, malwareScanning: true })])
        expect(JSON.stringify(t)).not.toContain("Microsoft.Storage/storageAccounts/managementPolicies");
      expect(attachments().template.parameters).not.toHaveProperty("orphanDeleteAfterDays");
      const deploy = prose("docs/deploy.md");
      expect(deploy).toContain("**No lifecycle rule.**");
      expect(deploy).toContain("`attachments-sweep` timer, every 5 minutes");
      expect(prose("docs/reliability.md")).not.toContain("lifecycle rule that deletes");
    });

    it("exposes the blob endpoint, the container and the malware-scanning switch as app settings under the names the code reads", () => {
      expect(appSettings(compiled)).toMatchObject({
        [SETTINGS.attachmentContainer]: expect.stringMatching(/'attachments'.*containerName/),
        [SETTINGS.attachmentBlobEndpoint]: expect.stringMatching(/'attachments'.*blobEndpoint/),
      });
      expect(appSettings(deployed({ malwareScanning: false }))[SETTINGS.attachmentMalwareScanning]).toBe("false");
      expect(appSettings(deployed({ malwareScanning: true }))[SETTINGS.attachmentMalwareScanning]).toBe("true");
      for (const name of [SETTINGS.attachmentBlobEndpoint, SETTINGS.attachmentContainer, SETTINGS.attachmentMalwareScanning])
        expect(read("docs/deploy.md"), name).toContain(`\`${name}\``);
    });

    it("malwareScanning (off by default) turns on Defender for Storage's on-upload scanning of the attachments account, and nothing else", () => {
      expect(compiled.parameters.malwareScanning).toMatchObject({ type: "bool", defaultValue: false });
      expect(PARAMETERS.parameters.malwareScanning.value).toBe("${ATTACHMENT_MALWARE_SCANNING=false}");
      const defender = (on: boolean) =>
        ofType(moduleOf(deployed({ malwareScanning: on }), "attachments").template, "Microsoft.Security/defenderForStorageSettings");
      expect(defender(false)).toEqual([]);
      const [settings] = defender(true);
      expect(settings.name).toBe("current");
      expect(settings.scope).toBe("[resourceId('Microsoft.Storage/storageAccounts', parameters('name'))]");
      expect(settings.properties).toEqual({
        isEnabled: true,
        overrideSubscriptionLevelSettings: true,
        malwareScanning: { onUpload: { isEnabled: true, capGBPerMonth: "[parameters('malwareScanningCapGBPerMonth')]" } },
        sensitiveDataDiscovery: { isEnabled: false },
      });
      expect(JSON.stringify(deployed({ malwareScanning: true }).resources.filter((r) => r.name !== "attachments"))).not.toContain(
        "defenderForStorageSettings",
      );
    });
  });

  describe("private networking (issue 23, point 10)", () => {
    const on = () => deployed({ privateNetworking: true });
    const off = () => deployed({ privateNetworking: false });
    const resourceOf = (t: Template, module: string, type: string) => one(moduleOf(t, module).template, type);

    it("is a parameter, off by default, that azd passes from PRIVATE_NETWORKING; the template compiles and lints clean (one template serves both values)", () => {
      expect(compiled.parameters.privateNetworking).toMatchObject({ type: "bool", defaultValue: false });
      expect(PARAMETERS.parameters.privateNetworking.value).toBe("${PRIVATE_NETWORKING=false}");
      expect(compiled.parameters.privateNetworking.metadata?.description).toContain("priced in docs/deploy.md");
      const lint = spawnSync(process.execPath, [path.join(ROOT, "scripts", "bicep.mjs"), "lint"], { cwd: ROOT, encoding: "utf8" });
      expect(lint.status, `${lint.stdout}${lint.stderr}`).toBe(0);
    });

    it("off: no virtual network; PostgreSQL keeps the allow-Azure rule (0.0.0.0), and docs/deploy.md says plainly why", () => {
      const t = off();
      expect(t.resources.map((r) => r.name)).not.toContain("network");
      expect(resourceOf(t, "api", "Microsoft.Web/sites").properties.virtualNetworkSubnetId).toBeNull();
      const pg = moduleOf(t, "postgres").template;
      expect(one(pg, "Microsoft.DBforPostgreSQL/flexibleServers").properties.network).toEqual({ publicNetworkAccess: "Enabled" });
      expect(one(pg, "Microsoft.DBforPostgreSQL/flexibleServers/firewallRules").properties).toEqual({
        startIpAddress: "0.0.0.0",
        endIpAddress: "0.0.0.0",
      });
      expect(resourceOf(t, "keyvault", "Microsoft.KeyVault/vaults").properties).toMatchObject({ publicNetworkAccess: "Enabled" });
      expect(resourceOf(t, "storage", "Microsoft.Storage/storageAccounts").properties).toMatchObject({ publicNetworkAccess: "Enabled" });
      expect(ofType(moduleOf(t, "webpubsub").template, "Microsoft.SignalRService/webPubSub/sharedPrivateLinkResources")).toEqual([]);
      expect(prose("docs/deploy.md")).toContain("a Flex Consumption app outside a virtual network has no outbound addresses of its own");
    });

    it("on: the Function App joins a subnet delegated to Flex Consumption in a virtual network of the template's", () => {
      const t = on();
      const network = moduleOf(t, "network");
      const vnet = one(network.template, "Microsoft.Network/virtualNetworks");
      const subnets = vnet.properties.subnets as { name: string; properties: Record<string, unknown> }[];
      expect(subnets.map((s) => s.name)).toEqual(["app", "private-endpoints"]);
      expect(subnets[0].properties.delegations).toEqual([
        { name: "flex-consumption", properties: { serviceName: "Microsoft.App/environments" } },
      ]);
      expect(network.template.outputs.appSubnetId.value).toContain(".subnets[0].id");
      const api = moduleOf(t, "api");
      expect(String(api.params.appSubnetId)).toMatch(/'network'.*outputs\.appSubnetId/);
      expect(resourceOf(t, "api", "Microsoft.Web/sites").properties.virtualNetworkSubnetId).toBe("[parameters('appSubnetId')]");
    });

    it("on: PostgreSQL, Key Vault, both storage accounts and Web PubSub each get a private endpoint, with the private DNS zone Azure names for it, linked to the network", () => {
      const network = moduleOf(on(), "network");
      expect(network.template.variables!.endpoints).toEqual([
        {
          name: "postgres",
          target: "[parameters('postgresServerId')]",
          groupId: "postgresqlServer",
          zone: "privatelink.postgres.database.azure.com",
        },
        { name: "keyvault", target: "[parameters('keyVaultId')]", groupId: "vault", zone: "privatelink.vaultcore.azure.net" },
        {
          name: "host-storage",
          target: "[parameters('hostStorageId')]",
          groupId: "blob",
          zone: "[format('privatelink.blob.{0}', environment().suffixes.storage)]",
        },
        {
          name: "attachments",
          target: "[parameters('attachmentsStorageId')]",
          groupId: "blob",
          zone: "[format('privatelink.blob.{0}', environment().suffixes.storage)]",
        },
        { name: "webpubsub", target: "[parameters('webPubSubId')]", groupId: "webpubsub", zone: "privatelink.webpubsub.azure.com" },
      ]);
      for (const [param, module] of [
        ["postgresServerId", "postgres"],
        ["keyVaultId", "keyvault"],
        ["hostStorageId", "storage"],
        ["attachmentsStorageId", "attachments"],
        ["webPubSubId", "webpubsub"],
      ])
        expect(String(network.params[param]), param).toMatch(new RegExp(`'${module}'\\), '[^']+'\\)\\.outputs\\.id\\.value`));
      const endpoints = one(network.template, "Microsoft.Network/privateEndpoints");
      expect(endpoints.copy).toEqual({ name: "privateEndpoints", count: "[length(variables('endpoints'))]" });
      expect(endpoints.properties.privateLinkServiceConnections).toEqual([
        {
          name: "[variables('endpoints')[copyIndex()].name]",
          properties: {
            privateLinkServiceId: "[variables('endpoints')[copyIndex()].target]",
            groupIds: ["[variables('endpoints')[copyIndex()].groupId]"],
          },
        },
      ]);
      expect(JSON.stringify(endpoints.properties.subnet)).toContain(".subnets[1].id");
      const zones = one(network.template, "Microsoft.Network/privateDnsZones");
      expect(zones.copy).toMatchObject({ count: "[length(variables('zoneNames'))]" });
      expect(network.template.variables!.zoneNames).toBe(
        "[union(map(variables('endpoints'), lambda('endpoint', lambdaVariables('endpoint').zone)), createArray())]",
      );
      const links = one(network.template, "Microsoft.Network/privateDnsZones/virtualNetworkLinks");
      expect(links.properties).toEqual({
        virtualNetwork: { id: "[resourceId('Microsoft.Network/virtualNetworks', parameters('name'))]" },
        registrationEnabled: false,
      });
      const groups = one(network.template, "Microsoft.Network/privateEndpoints/privateDnsZoneGroups");
      expect(JSON.stringify(groups.properties)).toContain(
        "[resourceId('Microsoft.Network/privateDnsZones', variables('endpoints')[copyIndex()].zone)]",
      );
    });

    it("on: public access closed on PostgreSQL (and no firewall rule), Key Vault and the host's storage; Web PubSub's public side takes browser connections only", () => {
      const t = on();
      const pg = moduleOf(t, "postgres").template;
      expect(one(pg, "Microsoft.DBforPostgreSQL/flexibleServers").properties.network).toEqual({ publicNetworkAccess: "Disabled" });
      expect(ofType(pg, "Microsoft.DBforPostgreSQL/flexibleServers/firewallRules")).toEqual([]);
      expect(resourceOf(t, "keyvault", "Microsoft.KeyVault/vaults").properties).toMatchObject({
        publicNetworkAccess: "Disabled",
        networkAcls: { defaultAction: "Deny", bypass: "AzureServices" },
      });
      expect(resourceOf(t, "storage", "Microsoft.Storage/storageAccounts").properties).toMatchObject({
        publicNetworkAccess: "Disabled",
        networkAcls: { defaultAction: "Deny" },
      });
      const wps = moduleOf(t, "webpubsub").template;
      expect(one(wps, "Microsoft.SignalRService/webPubSub").properties.networkACLs).toEqual({
        defaultAction: "Allow",
        publicNetwork: { deny: ["RESTAPI", "ServerConnection", "Trace"] },
      });
      // Web PubSub reads the event-handler key through its own private link to the closed Key Vault.
      expect(one(wps, "Microsoft.SignalRService/webPubSub/sharedPrivateLinkResources").properties).toMatchObject({
        groupId: "vault",
        privateLinkResourceId: "[parameters('keyVaultId')]",
      });
      expect(moduleOf(t, "webpubsub").params.keyVaultId).toMatch(/'keyvault'.*outputs\.id/);
      // Browsers upload to the attachments account directly: it stays public, reached privately by the app.
      expect(resourceOf(t, "attachments", "Microsoft.Storage/storageAccounts").properties).toMatchObject({
        publicNetworkAccess: "Enabled",
      });
    });

    it("on with Free_F1 stops the deployment before anything changes (no private endpoint on that tier)", () => {
      expect(deployed({ privateNetworking: true, webPubSubSku: "Free_F1" }).variables!.webPubSubSkuName).toMatch(
        /^\[fail\('PRIVATE_NETWORKING needs WEBPUBSUB_SKU Standard_S1/,
      );
      expect(deployed({ privateNetworking: true, webPubSubSku: "Standard_S1" }).variables!.webPubSubSkuName).toBe("Standard_S1");
      expect(deployed({ privateNetworking: false, webPubSubSku: "Free_F1" }).variables!.webPubSubSkuName).toBe("Free_F1");
      expect(moduleOf(compiled, "webpubsub").params.skuName).toBe("[variables('webPubSubSkuName')]");
    });

    it("docs/deploy.md prices it and says what stays public", () => {
      const deploy = prose("docs/deploy.md");
      expect(deploy).toMatch(/\| Private networking \(`PRIVATE_NETWORKING`\) \| off \| when on: ~\$\d+/);
      expect(deploy).toContain("azd env set PRIVATE_NETWORKING true");
      expect(deploy).toContain(
        "Web PubSub reads the event-handler key through a shared private link** to Key Vault, which Key Vault must approve once",
      );
    });
  });
});
