/**
 * Import throughput: `npm run import-original`'s code moves BENCH_IMPORT_MESSAGES messages
 * (default 1,000,000) from an original-schema database (as SQLAlchemy creates it) into a
 * migrated one, and prints rows per second beside the floor measured in the same run: the same
 * rows copied by one INSERT ... SELECT inside the server (no client, no rules, same indexes and
 * triggers), and their ratio. A rerun (nothing left to do) is timed too.
 *
 *   BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres npm run bench:import
 *   BENCH_IMPORT_MESSAGES=1000000 BENCH_IMPORT_USERS=10000 BENCH_IMPORT_BATCH=2000
 */
import { performance } from "node:perf_hooks";
import type { Client } from "pg";

import { faultTolerantPool, withClient } from "../shared/data/db";
import { migrate } from "../shared/data/migrate";
import { ORIGINAL_SCHEMA } from "../test/support/original";
import { openPostgresSource } from "../tools/import/postgres-source";
import { importOriginal } from "../tools/import/run";
import { withBenchDatabase } from "./database-server";
import { createDatabase, dropDatabase } from "./throughput/seed";

const MESSAGES = Number(process.env.BENCH_IMPORT_MESSAGES ?? 1_000_000);
const USERS = Number(process.env.BENCH_IMPORT_USERS ?? 10_000);
const BATCH = Number(process.env.BENCH_IMPORT_BATCH ?? 2_000);
const [SOURCE, TARGET, FLOOR] = ["bench_import_original", "bench_import_target", "bench_import_floor"];
// A passlib-shaped hash; nobody logs in during the benchmark.
const HASH = "$2b$12$abcdefghijklmnopqrstuu2Ivs0yuZyvPrjAZ9RQDTdTqMj3YCSZ6";

/** The original's tables, filled with mail of realistic length (titles ~20, bodies ~300 characters). */
async function fillOriginal(db: Client): Promise<void> {
  await db.query(ORIGINAL_SCHEMA);
  await db.query(`INSERT INTO "Users" (username, password_hash) SELECT 'user' || i, $1 FROM generate_series(1, ${USERS}) i`, [HASH]);
  await db.query(
    `INSERT INTO "Messages" (sender_id, recipient_id, title, body, "timestamp", is_read)
     SELECT 1 + (i * 7) % ${USERS}, 1 + i % ${USERS}, 'Assunto ' || (i % 997), repeat('Olá, tudo bem? Relatório ' || md5(i::text) || ' ', 5),
            '2023-01-01'::timestamp + i * interval '1 second', CASE i % 3 WHEN 0 THEN NULL WHEN 1 THEN false ELSE true END
       FROM generate_series(1, ${MESSAGES}) i`,
  );
}

const seconds = (t: number) => (performance.now() - t) / 1000;

async function main(ADMIN_URL: string): Promise<void> {
  if (!(Number.isInteger(MESSAGES) && MESSAGES >= 1_000)) throw new Error("BENCH_IMPORT_MESSAGES must be an integer of at least 1000");
  const [sourceUrl, targetUrl, floorUrl] = [
    await createDatabase(ADMIN_URL, SOURCE),
    await createDatabase(ADMIN_URL, TARGET),
    await createDatabase(ADMIN_URL, FLOOR),
  ];
  try {
    let t = performance.now();
    await withClient(sourceUrl, fillOriginal);
    console.log(`seeded the original: ${USERS} users, ${MESSAGES} messages in ${seconds(t).toFixed(1)} s`);

    // Floor: the same rows, already inside the target's server and database, copied by SQL alone.
    const floorSeconds = await withClient(floorUrl, async (c) => {
      const pool = faultTolerantPool({ connectionString: floorUrl, max: 1 });
      await migrate(pool);
      await pool.end();
      await fillOriginal(c);
      await c.query("SET statement_timeout = 0");
      const started = performance.now();
      await c.query(`INSERT INTO users (id, username, hashed_password) SELECT id, username, password_hash FROM "Users"`);
      await c.query(
        `INSERT INTO messages (id, sender_id, recipient_id, title, body, "timestamp", is_read)
         SELECT id, sender_id, recipient_id, title, body, "timestamp" AT TIME ZONE 'UTC', coalesce(is_read, false) FROM "Messages"`,
      );
      return seconds(started);
    });

    const pool = faultTolerantPool({ connectionString: targetUrl, max: 2 });
    try {
      await migrate(pool);
      const source = await openPostgresSource(sourceUrl);
      t = performance.now();
      let lastPrint = 0;
      const report = await importOriginal(pool, source, {
        batchSize: BATCH,
        onProgress: (p) => {
          if (p.done === p.total || performance.now() - lastPrint > 10_000) {
            lastPrint = performance.now();
            process.stderr.write(`  ${p.phase} ${p.done}/${p.total}, ${Math.round(p.rowsPerSecond)} rows/s\n`);
          }
        },
      });
      const importSeconds = seconds(t);
      await source.close();
      if (report.imported.messages !== MESSAGES) throw new Error(`imported ${report.imported.messages} messages, expected ${MESSAGES}`);

      const again = await openPostgresSource(sourceUrl);
      t = performance.now();
      const rerun = await importOriginal(pool, again, { batchSize: BATCH });
      const rerunSeconds = seconds(t);
      await again.close();
      if (rerun.thisRun.messages.written !== 0) throw new Error("the rerun wrote messages");

      const rows = USERS + MESSAGES;
      const line = (name: string, s: number) =>
        `${name.padEnd(44)} ${s.toFixed(1).padStart(7)} s  ${Math.round(rows / s)
          .toLocaleString("en-US")
          .padStart(9)} rows/s`;
      console.log(line("import-original (client, rules, record)", importSeconds));
      console.log(line("floor: INSERT ... SELECT inside the server", floorSeconds));
      console.log(line("rerun of the complete import (no change)", rerunSeconds));
      console.log(`ratio import/floor ${(importSeconds / floorSeconds).toFixed(2)}x (batch ${BATCH})`);
    } finally {
      await pool.end();
    }
  } finally {
    for (const name of [SOURCE, TARGET, FLOOR]) await dropDatabase(ADMIN_URL, name);
  }
}

withBenchDatabase(main).catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
