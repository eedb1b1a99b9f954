/**
 * Secrets and app settings as deployed: what the compiled template hands the app and where each value comes from. Needs a Bicep CLI (test/support/needs-tool.ts).
 */
import { readdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

import { DEFAULT_HUB, MIN_SECRET_LENGTH, parseConfig } from "../../shared/config/config";
import { SETTINGS } from "../../shared/config/settings";
import { BICEP, describeWithTool } from "../support/needs-tool";

describeWithTool(
  BICEP,
  "test/infra/template-settings.test.ts",
  "the deployed secrets and app settings",
  () => import("../support/compiled-infra.js"),
  ({
    ROOT,
    read,
    args,
    allModules,
    everything,
    api,
    appSettings,
    site,
    platformSettingsExpression,
    platformSettings,
    PLATFORM_SETTINGS,
    KNOWN,
    LOCAL_CONFIG,
    PARAMETERS,
    defaults,
    template,
  }) => {
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
        expect(site.identity).toEqual({
          type: "UserAssigned",
          userAssignedIdentities: { "[format('{0}', parameters('identityId'))]": {} },
        });
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
  },
);
