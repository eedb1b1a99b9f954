import type { Pool, PoolClient } from "pg";
import { MIGRATIONS, type Migration } from "./migrations";

// Any fixed number: every migrator takes the same session lock, so two never interleave.
const MIGRATION_LOCK_KEY = 727_001;
const LOCK_POLL_MS = 200;

export interface MigrationResult {
  applied: number[];
  current: number;
}

export interface MigrateOptions {
  /** How long to wait for another migrator to finish before giving up (it applies the same versions). */
  lockWaitMs?: number;
  /** How long one migration may wait for a table lock held by running queries before it fails. */
  lockTimeoutMs?: number;
}

/** Another instance holds the migration lock: it is applying the same migrations. */
export class MigrationLockBusyError extends Error {
  constructor(waitedMs: number) {
    super(`another migrator held the migration lock for ${waitedMs} ms; it applies the same migrations`);
    this.name = "MigrationLockBusyError";
  }
}

/** The newest schema version this code expects. */
export const expectedSchemaVersion = (migrations: readonly Migration[] = MIGRATIONS): number => Math.max(0, ...migrations.map((m) => m.version));

/** The version the database is at: 0 before the first migration. */
export async function schemaVersion(pool: Pick<Pool, "query">): Promise<number> {
  // The table is named only once it exists: a query naming a missing table fails as it is parsed.
  const { rows: table } = await pool.query<{ exists: boolean }>("SELECT to_regclass('schema_migrations') IS NOT NULL AS exists");
  if (!table[0].exists) return 0;
  const { rows } = await pool.query<{ v: number | null }>("SELECT max(version) AS v FROM schema_migrations");
  return Number(rows[0].v ?? 0);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls for the session lock instead of blocking on it, so a start-up never waits longer than `waitMs`. */
async function takeLock(client: PoolClient, waitMs: number): Promise<void> {
  const started = Date.now();
  for (;;) {
    const { rows } = await client.query<{ locked: boolean }>("SELECT pg_try_advisory_lock($1) AS locked", [MIGRATION_LOCK_KEY]);
    if (rows[0].locked) return;
    if (Date.now() - started >= waitMs) throw new MigrationLockBusyError(Date.now() - started);
    await sleep(LOCK_POLL_MS);
  }
}

/**
 * Applies pending migrations, each in its own transaction, under an advisory lock so that
 * several instances (or `npm run migrate` twice) starting at once apply each exactly once.
 * Bounded: it waits at most `lockWaitMs` for the lock and each migration at most `lockTimeoutMs`
 * for a table lock, then throws (the schema stays at the last version that committed).
 */
export async function migrate(pool: Pool, migrations: readonly Migration[] = MIGRATIONS, options: MigrateOptions = {}): Promise<MigrationResult> {
  const { lockWaitMs = 10_000, lockTimeoutMs = 5_000 } = options;
  const client = await pool.connect();
  try {
    await takeLock(client, lockWaitMs);
    try {
      await client.query(`
        CREATE TABLE IF NOT EXISTS schema_migrations (
          version INTEGER PRIMARY KEY,
          name TEXT NOT NULL,
          applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )`);
      const { rows } = await client.query<{ version: number }>("SELECT version FROM schema_migrations");
      const done = new Set(rows.map((r) => r.version));
      const applied: number[] = [];
      for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
        if (done.has(migration.version)) continue;
        await client.query("BEGIN");
        try {
          // A DDL statement queues behind every query on its table: fail fast rather than stall the app.
          await client.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.floor(lockTimeoutMs))}`);
          // Claiming the version inside the same transaction makes a second migrator skip it
          // even where advisory locks do not separate sessions (the embedded database).
          const claim = await client.query(
            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2) ON CONFLICT (version) DO NOTHING",
            [migration.version, migration.name],
          );
          if (claim.rowCount === 0) {
            await client.query("ROLLBACK");
            continue;
          }
          await client.query(migration.sql);
          await client.query("COMMIT");
        } catch (error) {
          await client.query("ROLLBACK");
          throw new Error(`migration ${migration.version} (${migration.name}) failed: ${(error as Error).message}`, { cause: error });
        }
        applied.push(migration.version);
      }
      return { applied, current: await schemaVersion(client) };
    } finally {
      await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY]);
    }
  } finally {
    client.release();
  }
}
