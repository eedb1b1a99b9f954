/**
 * Migrations on start cannot hang an instance or fail silently: the migration lock and table locks
 * are waited for briefly, and /health answers 503 with a detail while the schema is behind the code,
 * then retries the migration itself and turns 200 once it applied.
 */
import { Client, Pool } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { resetConfig } from "../../shared/config/config";
import { closePool } from "../../shared/data/db";
import { expectedSchemaVersion, migrate, MigrationLockBusyError, schemaVersion } from "../../shared/data/migrate";
import { MIGRATIONS } from "../../shared/data/migrations";
import { createTestDatabase, type TestDatabase } from "../support/database";
import { call } from "../support/http";

const MIGRATION_LOCK_KEY = 727_001;

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await closePool();
  await db.close();
});

async function session(): Promise<Client> {
  const client = new Client({ connectionString: db.url });
  await client.connect();
  return client;
}

describe("/health and the schema version", () => {
  it("answers 503 with a detail while the schema is behind the code, migrates in the background, then 200", async () => {
    process.env.DATABASE_URL = db.url;
    process.env.DB_MIGRATE_ON_START = "true";
    resetConfig();
    await closePool();
    const { health } = await import("../../functions/health.js");
    const { applyMigrations } = await import("../../shared/http/startup.js");

    const behind = await call(health);
    expect(behind.status).toBe(503);
    expect(behind.body).toEqual({
      detail: `The database schema is at version 0 but this code needs version ${expectedSchemaVersion()}; migrations are pending`,
    });

    await applyMigrations(); // joins the attempt /health started, or makes one
    const healthy = await call(health);
    expect(healthy.status).toBe(200);
    expect(healthy.body).toEqual({ status: "ok" });
  });
});

describe("migrations are bounded", () => {
  it("give up quickly when another migrator holds the lock, instead of blocking start-up", async () => {
    const other = await session();
    const pool = new Pool({ connectionString: db.url, max: 1 });
    try {
      await other.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_KEY]);
      const started = Date.now();
      await expect(migrate(pool, MIGRATIONS, { lockWaitMs: 500 })).rejects.toBeInstanceOf(MigrationLockBusyError);
      expect(Date.now() - started).toBeGreaterThanOrEqual(500);
      expect(Date.now() - started).toBeLessThan(3_000);
    } finally {
      await other.end();
      await pool.end();
    }
  });

  it("fail fast when a migration waits for a table lock held by running queries, leaving the schema behind", async () => {
    const reader = await session();
    const pool = new Pool({ connectionString: db.url, max: 1 });
    const next = expectedSchemaVersion() + 1000;
    const pending = [...MIGRATIONS, { version: next, name: "add a column", sql: "ALTER TABLE users ADD COLUMN nickname TEXT" }];
    try {
      await reader.query("BEGIN");
      await reader.query("SELECT count(*) FROM users"); // holds ACCESS SHARE until the transaction ends
      const started = Date.now();
      await expect(migrate(pool, pending, { lockTimeoutMs: 300 })).rejects.toThrow(
        new RegExp(`migration ${next} \\(add a column\\) failed: .*lock timeout`),
      );
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(await schemaVersion(pool)).toBe(expectedSchemaVersion());
      await reader.query("ROLLBACK");
      expect((await migrate(pool, pending)).applied).toEqual([next]);
    } finally {
      await reader.end();
      await pool.end();
    }
  });
});
