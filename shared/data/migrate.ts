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
export const expectedSchemaVersion = (migrations: readonly Migration[] = MIGRATIONS): number =>
  Math.max(0, ...migrations.map((m) => m.version));

/** The version the database is at: 0 before the first migration. */
export async function schemaVersion(pool: Pick<Pool, "query">): Promise<number> {
  // The table is named only once it exists: a query naming a missing table fails as it is parsed.
  const { rows: table } = await pool.query<{ exists: boolean }>("SELECT to_regclass('schema_migrations') IS NOT NULL AS exists");
  if (!table[0].exists) return 0;
  const { rows } = await pool.query<{ v: number | null }>("SELECT max(version) AS v FROM schema_migrations");
  return Number(rows[0].v ?? 0);
}

const SCHEMA_RECHECK_MS = 5_000;
const schemaReachedAt = new Set<number>();
const schemaAskedAt = new Map<number, number>();

/**
 * Whether the database's schema is at `version` or later, for code that must act as under the
 * schema before it until then: an instance can serve before its migrations have all run (an index
 * build ahead of them, another instance holding the lock). Asked again every few seconds until it
 * holds, then never.
 */
export async function schemaReached(db: Pick<Pool, "query">, version: number): Promise<boolean> {
  if (schemaReachedAt.has(version)) return true;
  const asked = schemaAskedAt.get(version);
  if (asked !== undefined && Date.now() - asked < SCHEMA_RECHECK_MS) return false;
  schemaAskedAt.set(version, Date.now());
  if ((await schemaVersion(db)) < version) return false;
  schemaReachedAt.add(version);
  return true;
}

/** Whether schemaReached has found `version` reached already: for code that cannot wait to ask. */
export const schemaKnownReached = (version: number): boolean => schemaReachedAt.has(version);

/** Forgets what schemaReached learnt (a test that takes its database back to an earlier schema). */
export function forgetSchemaReached(): void {
  schemaReachedAt.clear();
  schemaAskedAt.clear();
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls for the session lock instead of blocking on it, so a start-up never waits longer than
 * `waitMs`; and a session blocked in pg_advisory_lock would hold a snapshot that CREATE INDEX
 * CONCURRENTLY (run by the lock holder) waits for: a deadlock.
 */
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
 * Applies pending migrations in version order (a gap in the numbers is fine), under an advisory
 * lock so that several instances (or `npm run migrate` twice) starting at once apply each exactly
 * once. Transactional migrations run in their own transaction and wait at most `lockTimeoutMs`
 * for a table lock held by running queries; concurrent index builds run outside one, so writes
 * to the table go on while they build. It waits at most `lockWaitMs` for the migration lock, then
 * throws (the schema stays at the last version that committed).
 */
export async function migrate(
  pool: Pool,
  migrations: readonly Migration[] = MIGRATIONS,
  options: MigrateOptions = {},
): Promise<MigrationResult> {
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
        const online = !!(migration.concurrentIndexes?.length || migration.dropIndexesConcurrently?.length);
        try {
          const claimed = migration.backfill
            ? await applyBackfill(client, migration, migration.backfill)
            : online
              ? await applyOnline(client, migration)
              : await applyInTransaction(client, migration, lockTimeoutMs);
          if (claimed) applied.push(migration.version);
        } catch (error) {
          throw new Error(`migration ${migration.version} (${migration.name}) failed: ${(error as Error).message}`, { cause: error });
        }
      }
      return { applied, current: await schemaVersion(client) };
    } finally {
      await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY]);
    }
  } finally {
    client.release();
  }
}

/** True when this call recorded the version; false when another migrator had already. */
async function applyInTransaction(client: PoolClient, migration: Migration, lockTimeoutMs: number): Promise<boolean> {
  await client.query("BEGIN");
  try {
    // A DDL statement queues behind every query on its table: fail fast rather than stall the app.
    await client.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.floor(lockTimeoutMs))}`);
    // Claiming the version inside the same transaction applies it once even should two
    // migrators ever run at once: the session lock is the first guard, this the second.
    if (!(await claim(client, migration))) {
      await client.query("ROLLBACK");
      return false;
    }
    if (migration.sql) await client.query(migration.sql);
    if (migration.data) await migration.data(client);
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
      if (existing.rows.length && !(existing.rows[0] as { valid: boolean }).valid)
        await run(`DROP INDEX CONCURRENTLY IF EXISTS ${index.name}`);
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

/**
 * Runs a backfill batch by batch over the table's ids as they stand when it starts (rows written
 * later are the triggers' to handle), each batch in its own transaction, then records the version.
 */
async function applyBackfill(client: PoolClient, migration: Migration, backfill: NonNullable<Migration["backfill"]>): Promise<boolean> {
  if (migration.sql) await client.query(migration.sql);
  const { rows } = await client.query<{ lo: number | null; hi: number | null }>(
    `SELECT min(id) AS lo, max(id) AS hi FROM ${backfill.table}`,
  );
  const { lo, hi } = rows[0];
  if (lo !== null && hi !== null) {
    for (let first = lo; first <= hi; first += backfill.batchSize) {
      await client.query("BEGIN");
      try {
        await client.query(backfill.statement, [first, Math.min(hi, first + backfill.batchSize - 1)]);
        await client.query("COMMIT");
      } catch (error) {
        await client.query("ROLLBACK");
        throw error;
      }
    }
  }
  return claim(client, migration);
}

/**
 * Waits for `work` at most `waitMs`: "continuing" when it is still running then (in practice an
 * index built concurrently on a large table, after the quick schema changes have committed),
 * so a deploy onto a big database does not hold an instance's start for minutes.
 */
export async function settleWithin(work: Promise<unknown>, waitMs: number): Promise<"done" | "continuing"> {
  let timer: NodeJS.Timeout | undefined;
  const waited = new Promise<"continuing">((resolve) => {
    timer = setTimeout(() => resolve("continuing"), waitMs);
  });
  try {
    return await Promise.race([work.then(() => "done" as const), waited]);
  } finally {
    clearTimeout(timer);
  }
}
