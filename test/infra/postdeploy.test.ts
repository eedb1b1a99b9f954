/**
 * infra/hooks/postdeploy.mjs against a fake app and a fake Resource Manager on one local server: an app
 * that stays down until it is restarted (a Key Vault role that had not reached Key Vault at its first
 * start) is restarted once and reported up; a healthy app is never restarted; one that stays down is
 * restarted once only, and the hook still succeeds. With private networking on, it approves Web PubSub's
 * pending private link to Key Vault (and nothing else) before it waits.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";

import { azureYaml } from "../support/azure-yaml";
import { ROOT } from "../support/clone";

type Outcome = "healthy" | "healthy after restart" | "not healthy" | "no url";
interface PostdeployModule {
  KEY_VAULT_LINK_REQUEST: string;
  postdeploy(options: {
    env: NodeJS.ProcessEnv;
    token?: () => string;
    arm?: string;
    timing?: Record<string, number>;
    log?: (line: string) => void;
  }): Promise<Outcome>;
}
const HOOK = path.join(ROOT, "infra", "hooks", "postdeploy.mjs");
const load = async () => (await import(pathToFileURL(HOOK).href)) as PostdeployModule;
const FAST = { beforeRestartMs: 300, afterRestartMs: 300, pauseMs: 20, requestMs: 2_000 };
const SITE = { AZURE_SUBSCRIPTION_ID: "sub-1", AZURE_RESOURCE_GROUP: "rg-mail", SERVICE_API_NAME: "func-api-x" };

interface Fake {
  url: string;
  restarts: { path: string; authorization?: string }[];
  healthCalls: number;
}
let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

/** Answers /health with 503 until `upAfterRestarts` restarts have arrived (Infinity: never up), and takes ARM's restart. */
async function fakeAzure(upAfterRestarts: number): Promise<Fake> {
  const fake: Fake = { url: "", restarts: [], healthCalls: 0 };
  server = createServer((req, res) => {
    if (req.method === "POST" && /\/providers\/Microsoft\.Web\/sites\/[^/]+\/restart\?api-version=/.test(req.url ?? "")) {
      fake.restarts.push({ path: req.url!, authorization: req.headers.authorization });
      res.writeHead(200).end();
    } else if (req.url === "/health") {
      fake.healthCalls++;
      if (fake.restarts.length >= upAfterRestarts) res.writeHead(200).end('{"status":"ok"}');
      else res.writeHead(503).end("Function host is not running.");
    } else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  fake.url = `http://127.0.0.1:${(server!.address() as AddressInfo).port}`;
  return fake;
}

describe("postdeploy", () => {
  it("restarts once an app that is down after the first window, with azd's ARM token, and reports it up", async () => {
    const fake = await fakeAzure(1);
    const lines: string[] = [];
    const outcome = await (
      await load()
    ).postdeploy({
      env: { SERVICE_API_URI: fake.url, ...SITE },
      token: () => "arm-token",
      arm: fake.url,
      timing: FAST,
      log: (l) => lines.push(l),
    });
    expect(outcome).toBe("healthy after restart");
    expect(fake.restarts).toEqual([
      {
        path: "/subscriptions/sub-1/resourceGroups/rg-mail/providers/Microsoft.Web/sites/func-api-x/restart?api-version=2024-04-01",
        authorization: "Bearer arm-token",
      },
    ]);
    expect(lines.join("\n")).toMatch(/restarted func-api-x once/);
  });

  it("never restarts an app that comes up", async () => {
    const fake = await fakeAzure(0);
    const outcome = await (
      await load()
    ).postdeploy({ env: { SERVICE_API_URI: fake.url, ...SITE }, token: () => "t", arm: fake.url, timing: FAST, log: () => {} });
    expect(outcome).toBe("healthy");
    expect(fake.restarts).toEqual([]);
  });

  it("restarts at most once, and names the manual restart when the app stays down", async () => {
    const fake = await fakeAzure(Infinity);
    const lines: string[] = [];
    const outcome = await (
      await load()
    ).postdeploy({ env: { SERVICE_API_URI: fake.url, ...SITE }, token: () => "t", arm: fake.url, timing: FAST, log: (l) => lines.push(l) });
    expect(outcome).toBe("not healthy");
    expect(fake.restarts).toHaveLength(1);
    expect(fake.healthCalls).toBeGreaterThan(2);
    expect(lines.join("\n")).toMatch(/did not report healthy/);
  });

  it("without the app's name or a token, says how to restart it instead of failing", async () => {
    const fake = await fakeAzure(Infinity);
    const lines: string[] = [];
    const hook = await load();
    expect(
      await hook.postdeploy({
        env: { SERVICE_API_URI: fake.url },
        token: () => "t",
        arm: fake.url,
        timing: FAST,
        log: (l) => lines.push(l),
      }),
    ).toBe("not healthy");
    const failing = () => {
      throw new Error("azd auth token: not logged in");
    };
    expect(
      await hook.postdeploy({
        env: { SERVICE_API_URI: fake.url, ...SITE },
        token: failing,
        arm: fake.url,
        timing: FAST,
        log: (l) => lines.push(l),
      }),
    ).toBe("not healthy");
    expect(fake.restarts).toEqual([]);
    expect(lines.join("\n")).toContain("az functionapp restart -g <resource group> -n <function app>");
    expect(lines.join("\n")).toContain(
      "Could not restart the app (azd auth token: not logged in); if it stays down: az functionapp restart -g rg-mail -n func-api-x",
    );
  });

  it("as azure.yaml runs it: exits 0 whatever happens, and says so when the environment has no URL", () => {
    const yaml = azureYaml(readFileSync(path.join(ROOT, "azure.yaml"), "utf8"));
    for (const os of ["posix", "windows"] as const)
      expect(yaml.hooks.postdeploy[os]).toMatchObject({ run: "node infra/hooks/postdeploy.mjs", continueOnError: "true" });
    const env = { PATH: process.env.PATH };
    expect(execFileSync(process.execPath, [HOOK], { cwd: ROOT, env, encoding: "utf8" })).toMatch(
      /SERVICE_API_URI is not in the azd environment/,
    );
  });

  describe("with private networking on", () => {
    const VAULT = { ...SITE, AZURE_KEY_VAULT_NAME: "kv-x", PRIVATE_NETWORKING: "true" };
    const CONNECTIONS = "/subscriptions/sub-1/resourceGroups/rg-mail/providers/Microsoft.KeyVault/vaults/kv-x/privateEndpointConnections";

    /** A healthy app, and a Key Vault holding these connections; records the PUTs. */
    async function fakeVault(connections: { name: string; status: string; description: string }[], listStatus = 200) {
      const puts: { path: string; body: unknown; authorization?: string }[] = [];
      server = createServer((req, res) => {
        if (req.url === `${CONNECTIONS}?api-version=2023-07-01` && req.method === "GET") {
          res.writeHead(listStatus, { "content-type": "application/json" }).end(
            JSON.stringify({
              value: connections.map((c) => ({
                name: c.name,
                properties: {
                  privateEndpoint: { id: `/subscriptions/managed/pe/${c.name}` },
                  privateLinkServiceConnectionState: { status: c.status, description: c.description },
                },
              })),
            }),
          );
        } else if (req.method === "PUT" && req.url?.startsWith(`${CONNECTIONS}/`)) {
          let body = "";
          req.on("data", (chunk: Buffer) => (body += chunk.toString()));
          req.on("end", () => {
            puts.push({ path: req.url!, body: JSON.parse(body), authorization: req.headers.authorization });
            res.writeHead(200, { "content-type": "application/json" }).end("{}");
          });
        } else if (req.url === "/health") res.writeHead(200).end('{"status":"ok"}');
        else res.writeHead(404).end();
      });
      await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
      return { url: `http://127.0.0.1:${(server!.address() as AddressInfo).port}`, puts };
    }

    it("approves Web PubSub's pending link to the Key Vault, and no other connection; the template asks with the message the hook looks for", async () => {
      const hook = await load();
      const fake = await fakeVault([
        { name: "wps-link", status: "Pending", description: hook.KEY_VAULT_LINK_REQUEST },
        { name: "someone-else", status: "Pending", description: "let me in" },
        { name: "app-endpoint", status: "Approved", description: "Auto-Approved" },
      ]);
      const lines: string[] = [];
      const outcome = await hook.postdeploy({
        env: { SERVICE_API_URI: fake.url, ...VAULT },
        token: () => "arm-token",
        arm: fake.url,
        timing: FAST,
        log: (l) => lines.push(l),
      });
      expect(outcome).toBe("healthy");
      expect(fake.puts).toEqual([
        {
          path: `${CONNECTIONS}/wps-link?api-version=2023-07-01`,
          authorization: "Bearer arm-token",
          body: {
            properties: {
              privateEndpoint: { id: "/subscriptions/managed/pe/wps-link" },
              privateLinkServiceConnectionState: { status: "Approved", description: "Approved by the postdeploy hook" },
            },
          },
        },
      ]);
      expect(lines.join("\n")).toContain("approved Web PubSub's private link to kv-x (wps-link)");
      expect(readFileSync(path.join(ROOT, "infra", "app", "webpubsub.bicep"), "utf8")).toContain(
        `requestMessage: '${hook.KEY_VAULT_LINK_REQUEST}'`,
      );
    });

    it("does nothing to the Key Vault with private networking off, and reports (never fails) when it cannot approve", async () => {
      const hook = await load();
      const fake = await fakeVault([{ name: "wps-link", status: "Pending", description: hook.KEY_VAULT_LINK_REQUEST }], 403);
      const lines: string[] = [];
      const run = (env: NodeJS.ProcessEnv) =>
        hook.postdeploy({
          env: { SERVICE_API_URI: fake.url, ...env },
          token: () => "t",
          arm: fake.url,
          timing: FAST,
          log: (l) => lines.push(l),
        });
      expect(await run({ ...VAULT, PRIVATE_NETWORKING: "false" })).toBe("healthy");
      expect(lines.join("\n")).not.toContain("Private networking");
      expect(await run(VAULT)).toBe("healthy");
      expect(fake.puts).toEqual([]);
      expect(lines.join("\n")).toMatch(/could not approve Web PubSub's private link to the Key Vault \(GET answered 403/);
      expect(lines.join("\n")).toContain("approve it as docs/deploy.md (Private networking) shows");
    });
  });
});
