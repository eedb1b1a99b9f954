import type { Pool, PoolClient, QueryConfig, QueryResult } from "pg";
import { MIGRATIONS, type Migration } from "./migrations";

// Any fixed number: every migrator takes the same session lock, so two never interleave.
const MIGRATION_LOCK_KEY = 727_001;
const LOCK_POLL_MS = 200;
// Building an index on a large table outlasts the request-sized statement timeout of the pool.
const ONLINE_STEP_TIMEOUT_MS = 6 * 60 * 60 * 1000;

export interface MigrationResult {
  applied: number[];
  current: number;
}

export interface MigrateOptions {
  /** How long to wait for another migrator (default 60 s) before giving up with an error. */
  lockWaitMs?: number;
}

/**
 * Applies pending migrations in version order (a gap in the numbers is fine), under an
 * advisory lock so that several instances (or `npm run migrate` twice) starting at once apply
 * each exactly once. Transactional migrations run in their own transaction; concurrent index
 * builds run outside one, so writes to the table go on while they build.
 */
export async function migrate(pool: Pool, migrations: readonly Migration[] = MIGRATIONS, options: MigrateOptions = {}): Promise<MigrationResult> {
  const client = await pool.connect();
  try {
    await acquireLock(client, options.lockWaitMs ?? 60_000);
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
        const online = !!(migration.concurrentIndexes?.length || migration.dropIndexesConcurrently?.length);
        try {
          const claimed = online ? await applyOnline(client, migration) : await applyInTransaction(client, migration);
          if (claimed) applied.push(migration.version);
        } catch (error) {
          throw new Error(`migration ${migration.version} (${migration.name}) failed: ${(error as Error).message}`, { cause: error });
        }
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

export interface StartupLog {
  info(message: string): void;
  error(message: string): void;
}

/**
 * For an instance that is starting: applies pending migrations but waits for them at most
 * `waitMs`. What is left then (in practice an index built concurrently on a large table, after
 * the quick schema changes have committed) goes on in the background and is logged when done,
 * so a deploy onto a big database does not hold the instance's start for minutes.
 */
export async function migrateAtStartup(
  pool: Pool,
  log: StartupLog,
  waitMs = 20_000,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<"done" | "continuing"> {
  const finished = migrate(pool, migrations).then(
    ({ applied, current }) => {
      if (applied.length) log.info(`applied migrations ${applied.join(", ")}; schema at version ${current}`);
    },
    // The app still starts: /health reports the database, and the next start retries.
    (error: Error) => log.error(`database migration failed: ${error.message}`),
  );
  let timer: NodeJS.Timeout | undefined;
  const waited = new Promise<"continuing">((resolve) => {
    timer = setTimeout(() => resolve("continuing"), waitMs);
  });
  try {
    return await Promise.race([finished.then(() => "done" as const), waited]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Polls instead of blocking in pg_advisory_lock: a session blocked in a statement holds a
 * snapshot, which CREATE INDEX CONCURRENTLY (run by the lock holder) would wait for: a deadlock.
 */
async function acquireLock(client: PoolClient, waitMs: number): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const { rows } = await client.query<{ locked: boolean }>("SELECT pg_try_advisory_lock($1) AS locked", [MIGRATION_LOCK_KEY]);
    if (rows[0].locked) return;
    if (Date.now() >= deadline) throw new Error(`another migration is still running after ${Math.round(waitMs / 1000)} s; try again later`);
    await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
  }
}

/** True when this call recorded the version; false when another migrator had already. */
async function applyInTransaction(client: PoolClient, migration: Migration): Promise<boolean> {
  await client.query("BEGIN");
  try {
    // Claiming the version inside the same transaction makes a second migrator skip it
    // even where advisory locks do not separate sessions (the embedded database).
    if (!(await claim(client, migration))) {
      await client.query("ROLLBACK");
      return false;
    }
    if (migration.sql) await client.query(migration.sql);
    await client.query("COMMIT");
    return true;
  } catch (error) {
    await client.query("ROLLBACK");
    throw error;
  }
}

async function claim(client: PoolClient, migration: Migration): Promise<boolean> {
  const result = await client.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2) ON CONFLICT (version) DO NOTHING", [
    migration.version,
    migration.name,
  ]);
  return result.rowCount === 1;
}

/**
 * Each step is safe to repeat, and the version is recorded only after the last one, so a run
 * interrupted half-way (a restart, a timeout) is finished by the next one.
 */
async function applyOnline(client: PoolClient, migration: Migration): Promise<boolean> {
  // pg reads a per-query `query_timeout` (its client-side timer), though its types omit it.
  const run = (text: string, values: unknown[] = []): Promise<QueryResult> =>
    client.query({ text, values, query_timeout: ONLINE_STEP_TIMEOUT_MS } as QueryConfig);
  await run(`SET statement_timeout = ${ONLINE_STEP_TIMEOUT_MS}`);
  try {
    if (migration.sql) await run(migration.sql);
    const tables = new Set<string>();
    for (const index of migration.concurrentIndexes ?? []) {
      // An interrupted concurrent build leaves an invalid index behind; IF NOT EXISTS would keep it.
      const existing = await run("SELECT i.indisvalid AS valid FROM pg_index i WHERE i.indexrelid = to_regclass($1)", [index.name]);
      if (existing.rows.length && !(existing.rows[0] as { valid: boolean }).valid) await run(`DROP INDEX CONCURRENTLY IF EXISTS ${index.name}`);
      await run(`CREATE INDEX CONCURRENTLY IF NOT EXISTS ${index.name} ON ${index.table} ${index.definition}`);
      tables.add(index.table);
    }
    for (const name of migration.dropIndexesConcurrently ?? []) await run(`DROP INDEX CONCURRENTLY IF EXISTS ${name}`);
    // Statistics on the new index expressions let the planner judge when to use them.
    for (const table of tables) await run(`ANALYZE ${table}`);
    return await claim(client, migration);
  } finally {
    await client.query("RESET statement_timeout");
  }
}
