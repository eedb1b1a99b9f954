/** `npm start`'s stack: the embedded database persists across restarts, settings come from the example file. */
import { rmSync } from "node:fs";
import path from "node:path";
import { BlobServiceClient } from "@azure/storage-blob";
import { afterAll, describe, expect, it } from "vitest";

import { startAzurite } from "../../local/azurite";
import { temporaryDataDir } from "../../local/postgres/server";
import { applyValues, readLocalSettings } from "../../local/settings";
import { ROOT, startLocalStack } from "../../local/stack";
import { registerOverHttp, TEST_PASSWORD } from "../support/api";

const dataDir = temporaryDataDir("stack-data-");
afterAll(() => rmSync(path.dirname(dataDir), { recursive: true, force: true }));

describe("the local stack", () => {
  it("keeps data in the embedded database across a restart", async () => {
    const first = await startLocalStack({ hostPort: 0, embedded: { dataDir, port: 0 }, webPubSubPort: 0 });
    try {
      await registerOverHttp(first.url as string, "persisted");
    } finally {
      await first.close();
    }
    const second = await startLocalStack({ hostPort: 0, embedded: { dataDir, port: 0 }, webPubSubPort: 0 });
    try {
      const login = await fetch(`${second.url}/token`, {
        method: "POST",
        body: new URLSearchParams({ username: "persisted", password: TEST_PASSWORD }),
      });
      expect(login.status).toBe(200);
    } finally {
      await second.close();
    }
    // Two embedded PostgreSQL start-ups with migrations: seconds each on a busy machine.
  }, 60_000);

  it("keeps blob storage in a folder it makes on the first start, as npm start's .data/azurite", async () => {
    const location = path.join(path.dirname(dataDir), "not-yet", "azurite");
    const start = () => startAzurite({ port: 0, location, container: "attachments", corsOrigins: [] });
    const first = await start();
    try {
      const blob = BlobServiceClient.fromConnectionString(first.connectionString)
        .getContainerClient("attachments")
        .getBlockBlobClient("kept");
      await blob.upload("kept bytes", 10);
    } finally {
      await first.close();
    }
    const second = await start();
    try {
      const blob = BlobServiceClient.fromConnectionString(second.connectionString)
        .getContainerClient("attachments")
        .getBlockBlobClient("kept");
      expect((await blob.downloadToBuffer()).toString()).toBe("kept bytes");
    } finally {
      await second.close();
    }
  }, 60_000);

  it("lets a developer register 30 accounts from 127.0.0.1 within the hour, across a restart (the example's relaxed limits)", async () => {
    // The example's values, not the relaxed ones every test process starts with (test/support/env.ts).
    for (const name of ["REGISTRATIONS_PER_ADDRESS", "LOGIN_FAILURES_PER_ADDRESS", "LOGIN_FAILURES_PER_USER_ADDRESS"])
      delete process.env[name];
    const register = async (url: string, username: string) =>
      (
        await fetch(`${url}/users/`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ username, password: TEST_PASSWORD }),
        })
      ).status;
    const statuses: number[] = [];
    for (const round of [0, 1]) {
      const stack = await startLocalStack({ hostPort: 0, embedded: { dataDir, port: 0 }, webPubSubPort: 0 });
      try {
        for (let i = 0; i < 15; i++) statuses.push(await register(stack.url as string, `dev_${round}_${String.fromCharCode(97 + i)}`));
      } finally {
        await stack.close();
      }
    }
    expect(statuses).toEqual(Array(30).fill(200));
  }, 90_000);

  it("reads the example settings when there is no local.settings.json, without overriding the environment", () => {
    const settings = readLocalSettings(ROOT);
    expect(path.basename(settings.file)).toMatch(/^local\.settings(\.example)?\.json$/);
    expect(settings.Host.CORS).toContain("http://localhost:5173");
    const env: NodeJS.ProcessEnv = { WEBPUBSUB_HUB: "mine" };
    applyValues({ WEBPUBSUB_HUB: "notifications", OTHER: "x" }, env);
    expect(env).toEqual({ WEBPUBSUB_HUB: "mine", OTHER: "x" });
  });
});
