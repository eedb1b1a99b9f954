import type { Pool } from "pg";
import { MIGRATIONS, type Migration } from "./migrations";

// Any fixed number: every migrator takes the same session lock, so two never interleave.
const MIGRATION_LOCK_KEY = 727_001;

export interface MigrationResult {
  applied: number[];
  current: number;
}

/**
 * Applies pending migrations, each in its own transaction, under an advisory lock so that
 * several instances (or `npm run migrate` twice) starting at once apply each exactly once.
 */
export async function migrate(pool: Pool, migrations: readonly Migration[] = MIGRATIONS): Promise<MigrationResult> {
  const client = await pool.connect();
  try {
    await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_KEY]);
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
      const { rows: latest } = await client.query<{ v: number | null }>("SELECT max(version) AS v FROM schema_migrations");
      return { applied, current: latest[0].v ?? 0 };
    } finally {
      await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY]);
    }
  } finally {
    client.release();
  }
}
