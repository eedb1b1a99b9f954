/**
 * Attachments on the Azure code path, run locally: the app in its own process with Azure's
 * settings (ATTACHMENT_BLOB_ENDPOINT, no connection string) signs user-delegation SAS with a key
 * it asks azurite for with its managed identity's bearer token (HTTPS, `--oauth basic`).
 */
import https from "node:https";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { spawnApp, type RunningApp } from "../../local/azure-identity/spawn-app";
import { startAzureIdentityStack, type AzureIdentityStack } from "../../local/azure-identity/stack";
import { RESOURCES } from "../../local/identity";
import { withClient } from "../../shared/data/db";
import { ERRORS } from "../../shared/domain/errors";
import { registerOverHttp, type HttpUser } from "../support/api";
import { requestSlot } from "../support/attachments";
import { identityAppSettings } from "../support/identity-app";

// The run's PostgreSQL server (test/support/database-server.ts): the identity signs in to it too.
const adminUrl = process.env.TEST_DATABASE_URL as string;

/** An HTTPS request that trusts the local CA, as the app does through NODE_EXTRA_CA_CERTS. */
function request(url: string, ca: string, init: { method?: string; headers?: Record<string, string>; body?: Buffer } = {}) {
  return new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
    const req = https.request(url, { method: init.method ?? "GET", headers: init.headers, ca }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    req.on("error", reject);
    req.end(init.body);
  });
}

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
});

describe("attachments signed through the managed identity", () => {
  let stack: AzureIdentityStack;
  let app: RunningApp;
  let alice: HttpUser;

  beforeAll(async () => {
    stack = await startAzureIdentityStack({ adminUrl, appUrl: () => app?.url });
    cleanups.push(() => stack.close());
    app = await spawnApp(identityAppSettings(stack));
    cleanups.push(() => app.stop());
    alice = await registerOverHttp(app.url, "alice_identity");
  }, 120_000);

  it("signs a user-delegation SAS with a key azurite gave the identity's token, and the upload lands", async () => {
    expect(stack.appSettings()).not.toHaveProperty("ATTACHMENT_STORAGE_CONNECTION_STRING");
    const { status, body: slot } = await requestSlot(app.url, alice, { filename: "report.pdf", content_type: "application/pdf", size: 4 });
    expect(status).toBe(201);
    const url = new URL(slot.upload_url);
    expect(url.protocol).toBe("https:");
    // The signed key's object id and tenant: a user-delegation SAS, not one signed with an account key.
    expect(url.searchParams.get("skoid")).toBe(stack.identity.issuer.objectId);
    expect(url.searchParams.get("sktid")).toBe(stack.identity.issuer.tenantId);
    expect(url.searchParams.get("sp")).toBe("cw");
    expect(stack.identity.issued.get(RESOURCES.storage)).toBeGreaterThanOrEqual(1);
    const put = await request(slot.upload_url, stack.certificates.ca, { method: "PUT", headers: slot.headers, body: Buffer.from("%PDF") });
    expect(put.status, put.body.toString()).toBe(201);
    // The same URL reads nothing.
    expect((await request(slot.upload_url, stack.certificates.ca)).status).toBe(403);
  });

  it("answers 503 with a detail, quickly, when the storage account does not answer", { timeout: 90_000 }, async () => {
    const broken = await spawnApp(
      identityAppSettings(stack, {
        ATTACHMENT_BLOB_ENDPOINT: "https://127.0.0.1:9/devstoreaccount1",
        ATTACHMENT_STORAGE_TIMEOUT_MS: "1000",
      }),
    );
    cleanups.push(() => broken.stop());
    const bob = await registerOverHttp(broken.url, "bob_identity");
    const started = Date.now();
    const res = await requestSlot(broken.url, bob, { filename: "a.txt", content_type: "text/plain", size: 1 });
    expect(res.status).toBe(503);
    expect(res.body, broken.output.join("\n")).toEqual({ detail: ERRORS.storageUnavailable });
    expect(Date.now() - started).toBeLessThan(5_000);
    // The slot is written with the authentication and taken back when signing fails: nothing of it stays.
    const database = new URL(adminUrl);
    database.pathname = `/${stack.database}`;
    const left = await withClient(database.toString(), (client) =>
      client.query(
        `SELECT (SELECT count(*)::int FROM attachments WHERE owner_id = $1) AS rows,
                (SELECT coalesce(sum(count), 0)::int FROM attachment_pending_counts WHERE owner_id = $1) AS places,
                (SELECT count(*)::int FROM attachment_blob_deletions) AS queued`,
        [bob.id],
      ),
    );
    expect(left.rows).toEqual([{ rows: 0, places: 0, queued: 0 }]);
  });
});
