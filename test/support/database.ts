/**
 * A fresh database for one test file: a new database on the PostgreSQL server named by
 * TEST_DATABASE_URL (what CI uses), or an in-memory embedded PGlite when none is set.
 */
import { randomBytes } from "node:crypto";
import { Client, Pool } from "pg";

import { startEmbeddedDatabase } from "../../local/database";
import { resetConfig } from "../../shared/config/config";
import { closePool, getPool } from "../../shared/data/db";
import { migrate } from "../../shared/data/migrate";

export interface TestDatabase {
  url: string;
  kind: "server" | "embedded";
  close(): Promise<void>;
}

async function createServerDatabase(adminUrl: string): Promise<TestDatabase> {
  const name = `test_${process.pid}_${randomBytes(4).toString("hex")}`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    kind: "server",
    close: async () => {
      const dropper = new Client({ connectionString: adminUrl });
      await dropper.connect();
      await dropper.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await dropper.end();
    },
  };
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const server = process.env.TEST_DATABASE_URL;
  if (server) return createServerDatabase(server);
  const embedded = await startEmbeddedDatabase({ port: 0 });
  return { url: embedded.url, kind: "embedded", close: embedded.close };
}

/** Points the app at a fresh, migrated database; returns the teardown. */
export async function useTestDatabase(): Promise<TestDatabase> {
  const db = await createTestDatabase();
  process.env.DATABASE_URL = db.url;
  resetConfig();
  await closePool();
  await migrate(getPool());
  return {
    ...db,
    close: async () => {
      await closePool();
      await db.close();
    },
  };
}

/** Runs `work` with a pool of `poolSize` on a database of its own, dropped afterwards. */
export async function withScratchDatabase<T>(poolSize: number, work: (pool: Pool) => Promise<T>): Promise<T> {
  const scratch = await createTestDatabase();
  const pool = new Pool({ connectionString: scratch.url, max: poolSize });
  try {
    return await work(pool);
  } finally {
    await pool.end();
    await scratch.close();
  }
}
