/**
 * docs/SCALING.md, the capacity plan, against the compiled template's limits. Needs a Bicep CLI (test/support/needs-tool.ts).
 */
import { describe, expect, it } from "vitest";

import { BICEP, describeWithTool } from "../support/needs-tool";

describeWithTool(
  BICEP,
  "test/infra/template-capacity.test.ts",
  "docs/SCALING.md against the deployed template",
  () => import("../support/compiled-infra.js"),
  ({ read, resolveAsAzd, MAX_CONNECTIONS, WEBPUBSUB_UNITS, RESERVED, connectionPeak, PARAMETERS, FRESH, defaults }) => {
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
  },
);
