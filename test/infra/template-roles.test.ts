/**
 * The role assignments the compiled template makes, each one used by the app. Needs a Bicep CLI (test/support/needs-tool.ts).
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

import { SETTINGS } from "../../shared/config/settings";
import type { Template } from "../support/compiled-infra";
import { BICEP, describeWithTool } from "../support/needs-tool";

describeWithTool(
  BICEP,
  "test/infra/template-roles.test.ts",
  "the deployed role assignments",
  () => import("../support/compiled-infra.js"),
  ({ ROOT, read, module, appSettings, site, platformSettings, template }) => {
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
  },
);
