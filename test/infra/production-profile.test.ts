/**
 * The template's production profile, read from infra/main.bicep as the Bicep CLI compiles it and as
 * Azure would deploy it for each value of its switches (test/support/arm-specialize.ts evaluates the
 * conditions and `if(...)` expressions that depend on them): the Web PubSub tier, Key Vault purge
 * protection, diagnostic settings, no basic publishing credentials, the attachments account and its
 * malware scanning. Skipped like test/infra/infra.test.ts where no Bicep CLI can be had (never with CI set).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

import { SETTINGS } from "../../shared/config/settings";
import { specialize } from "../support/arm-specialize";

const ROOT = path.resolve(__dirname, "../..");
const read = (file: string) => readFileSync(path.join(ROOT, file), "utf8");
/** A doc with its line breaks as spaces, to match sentences that wrap. */
const prose = (file: string) => read(file).replace(/\s+/g, " ");
const BICEP = path.join(ROOT, "scripts", "bicep.mjs");
const available = spawnSync(process.execPath, [BICEP, "available"], { cwd: ROOT, encoding: "utf8" });
const skip = available.status !== 0 && !process.env.CI;
if (skip) console.warn(`test/infra/production-profile.test.ts skipped: ${available.stdout.trim()}`);

interface Resource {
  type: string;
  name: string;
  condition?: unknown;
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

const scratch = mkdtempSync(path.join(tmpdir(), "production-profile-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Compiled once (its own output file: infra.test.ts compiles in parallel); lint as CI does. */
function compile(): Template {
  const outfile = path.join(scratch, "main.json");
  execFileSync(process.execPath, [BICEP, "build", outfile], { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  return JSON.parse(readFileSync(outfile, "utf8")) as Template;
}

describe.skipIf(skip)("the production profile of infra/main.bicep", () => {
  const compiled = compile();
  const PARAMETERS = JSON.parse(read("infra/main.parameters.json")) as { parameters: Record<string, { value: string }> };
  /** The template as deployed with these switches (defaults for the rest). */
  const deployed = (values: { privateNetworking?: boolean; malwareScanning?: boolean } = {}) =>
    specialize(compiled, {
      malwareScanning: (compiled.parameters.malwareScanning.defaultValue as boolean) ?? false,
      ...values,
    });
  const moduleOf = (t: Template, name: string) => {
    const found = t.resources.find((r) => r.type === "Microsoft.Resources/deployments" && r.name === name);
    if (!found) throw new Error(`no module ${name}`);
    return {
      params: Object.fromEntries(Object.entries(found.properties.parameters ?? {}).map(([k, v]) => [k, v.value])),
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

    it("CORS on the blob service for ALLOWED_ORIGINS: GET and PUT only, with the headers a browser upload sends; no rule without origins", () => {
      const blobService = one(attachments().template, "Microsoft.Storage/storageAccounts/blobServices");
      expect(blobService.properties.cors).toEqual({
        corsRules:
          "[if(empty(parameters('allowedOrigins')), createArray(), createArray(createObject('allowedOrigins', parameters('allowedOrigins'), 'allowedMethods', createArray('GET', 'PUT'), 'allowedHeaders', createArray('content-type', 'x-ms-blob-type', 'x-ms-*'), 'exposedHeaders', createArray('etag', 'x-ms-*'), 'maxAgeInSeconds', 3600)))]",
      });
      expect(attachments().params.allowedOrigins).toBe("[variables('corsOrigins')]");
    });

    it("a lifecycle rule deletes uploads still tagged attachment-state=pending, a backstop documented in docs/deploy.md", () => {
      const policy = one(attachments().template, "Microsoft.Storage/storageAccounts/managementPolicies");
      const rules = (policy.properties.policy as { rules: { definition: unknown; enabled: boolean }[] }).rules;
      expect(rules).toHaveLength(1);
      expect(rules[0].enabled).toBe(true);
      expect(rules[0].definition).toEqual({
        filters: {
          blobTypes: ["blockBlob"],
          prefixMatch: ["[format('{0}/', parameters('containerName'))]"],
          blobIndexMatch: [{ name: "attachment-state", op: "==", value: "pending" }],
        },
        actions: { baseBlob: { delete: { daysAfterCreationGreaterThan: "[parameters('orphanDeleteAfterDays')]" } } },
      });
      expect(attachments().template.parameters.orphanDeleteAfterDays.defaultValue).toBe(2);
      expect(prose("docs/deploy.md")).toContain("whose blob index tag `attachment-state` is `pending` after 2 days");
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
});
