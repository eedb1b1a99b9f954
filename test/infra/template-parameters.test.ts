/**
 * The Bicep compiler's verdict on infra/main.bicep, and infra/main.parameters.json read and resolved the way azd reads it. Needs a Bicep CLI (test/support/needs-tool.ts).
 */
import { execFileSync } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";

import type { Env } from "../support/compiled-infra";
import { BICEP, describeWithTool } from "../support/needs-tool";

describeWithTool(
  BICEP,
  "test/infra/template-parameters.test.ts",
  "infra/main.bicep compiled, and main.parameters.json resolved the way azd resolves it",
  () => import("../support/compiled-infra.js"),
  ({ ROOT, deployments, module, resolveAsAzd, POSTGRES_REGIONS, PARAMETERS, FRESH, defaults, template }) => {
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
        expect(problems({ WEBPUBSUB_SKU: "Free_F1", WEBPUBSUB_CAPACITY: "2" })).toEqual([
          "webPubSubCapacity: Free_F1 does not take 2 units",
        ]);
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
        expect(resolveAsAzd(PARAMETERS, { ...FRESH, AZURE_LOCATION: "westindia" }).problems).toContain(
          'location: "westindia" is not allowed',
        );
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
  },
);
