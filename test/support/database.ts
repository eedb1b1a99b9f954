/**
 * A fresh database for one test file, on the run's PostgreSQL server (test/support/database-server.ts):
 * TEST_DATABASE_URL's, or the embedded one the run started.
 */
import { randomBytes } from "node:crypto";
import { Pool, type Client } from "pg";

import { resetConfig } from "../../shared/config/config";
import { closePool, getPool, withClient } from "../../shared/data/db";
import { migrate } from "../../shared/data/migrate";

export interface TestDatabase {
  url: string;
  close(): Promise<void>;
}

function serverUrl(): string {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) throw new Error("TEST_DATABASE_URL is unset: run tests with vitest, whose global setup starts the database server");
  return url;
}

const admin = <T>(work: (client: Client) => Promise<T>): Promise<T> => withClient(serverUrl(), work);

/** A new database: empty, or a copy of the run's migrated template. */
async function createDatabase(template?: string): Promise<TestDatabase> {
  const name = `test_${process.pid}_${randomBytes(4).toString("hex")}`;
  await admin((client) => client.query(`CREATE DATABASE ${name}${template ? ` TEMPLATE ${template}` : ""}`));
  const url = new URL(serverUrl());
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    close: () => admin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}

/** A new empty database (no schema: tests of the migrations and of what they adopt). */
export function createTestDatabase(): Promise<TestDatabase> {
  return createDatabase();
}

/** A new database with the current schema, copied from the run's migrated template. */
export function createMigratedDatabase(): Promise<TestDatabase> {
  return createDatabase(process.env.TEST_DATABASE_TEMPLATE);
}

/** Points the app at a fresh, migrated database; returns the teardown. */
export async function useTestDatabase(): Promise<TestDatabase> {
  const db = await createMigratedDatabase();
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
  // pg-pool's end() resolves before its clients' connections have closed: the forced drop below
  // can terminate one still closing, whose error the pool emits. It is the drop's own doing.
  pool.on("error", () => {});
  try {
    return await work(pool);
  } finally {
    await pool.end();
    await scratch.close();
  }
}
