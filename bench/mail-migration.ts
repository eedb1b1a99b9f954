/**
 * The mail model's migrations (12-14, docs/mail-model.md) on a database holding messages of the
 * old shape, while the old code keeps writing: what a deploy onto a busy service does.
 *
 * A fresh database is migrated to version 11, BENCH_MIGRATION_MESSAGES old-shape messages are
 * bulk-inserted (replies, threads, read and one-side deletions among them), then 12, 13 and 14
 * run one after the other, timed, while a writer does what the old code does: inserts one
 * message at a time, marks read, deletes a side, erases a message both sides deleted. After the
 * writer stops, every message must have exactly the copies the old shape implies (the
 * message_legacy_copies view of migration 12) and every counter must equal a full recount.
 * Exits non-zero when either check fails.
 *
 *   npm run bench:mail-migration         knobs: BENCH_MIGRATION_MESSAGES (1000000), BENCH_MIGRATION_USERS (1000)
 *   BENCH_DATABASE_URL=... to use your server instead of an embedded one.
 */
import os from "node:os";
import type { Pool } from "pg";

import { faultTolerantPool } from "../shared/data/db";
import { migrate } from "../shared/data/migrate";
import { MIGRATIONS } from "../shared/data/migrations";
import { seedOldShapeMail } from "../test/support/old-shape-mail";
import { withBenchDatabase } from "./database-server";
import { intKnob } from "./throughput/harness";
import { createDatabase, dropDatabase } from "./throughput/seed";

const MESSAGES = intKnob("BENCH_MIGRATION_MESSAGES", 1_000_000);
const USERS = intKnob("BENCH_MIGRATION_USERS", 1000);
const OLD_SHAPE = 11;
const MAIL_MODEL = [12, 13, 14];

const seconds = (since: number) => (performance.now() - since) / 1000;
const load = () =>
  os
    .loadavg()
    .map((n) => n.toFixed(1))
    .join(" ");

/** What the old code does, one short statement at a time, until stopped. */
function oldCodeWriter(pool: Pool) {
  let running = true;
  const done = { inserts: 0, reads: 0, deletions: 0, erasures: 0, errors: 0 };
  const loop = (async () => {
    for (let i = 1; running; i++) {
      const user = 1 + (i % USERS);
      try {
        await pool.query(
          `INSERT INTO messages (sender_id, recipient_id, title, body, in_reply_to, thread_id)
           VALUES ($1, $2, 'Written during the migration', 'by the old code', $3, $3)`,
          [user, 1 + ((i * 3) % USERS), i % 4 === 0 ? 1 + ((i * 7919) % MESSAGES) : null],
        );
        done.inserts++;
        const id = 1 + ((i * 104_729) % MESSAGES);
        if (i % 2 === 0) {
          await pool.query("UPDATE messages SET is_read = true, read_at = now() WHERE id = $1 AND NOT is_read", [id]);
          done.reads++;
        } else if (i % 3 === 0) {
          await pool.query("UPDATE messages SET recipient_deleted_at = now() WHERE id = $1 AND recipient_deleted_at IS NULL", [id]);
          done.deletions++;
        } else {
          await pool.query("DELETE FROM messages WHERE id = $1 AND sender_deleted_at IS NOT NULL AND recipient_deleted_at IS NOT NULL", [
            id - (id % 221),
          ]);
          done.erasures++;
        }
      } catch (error) {
        done.errors++;
        if (done.errors === 1) console.error("old code's write failed:", (error as Error).message);
      }
    }
  })();
  return {
    done,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

async function check(pool: Pool): Promise<string[]> {
  const failures: string[] = [];
  const missing = await pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM (SELECT user_id, message_id, received, is_read FROM message_legacy_copies
                               EXCEPT SELECT user_id, message_id, received, is_read FROM message_copies) x`,
  );
  const extra = await pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM (SELECT user_id, message_id, received FROM message_copies
                               EXCEPT SELECT user_id, message_id, received FROM message_legacy_copies) x`,
  );
  if (Number(missing.rows[0].n)) failures.push(`${missing.rows[0].n} copies missing or with the wrong read state`);
  if (Number(extra.rows[0].n)) failures.push(`${extra.rows[0].n} copies the old shape does not imply`);
  const counters = await pool.query<{ n: string }>(
    `WITH recount AS (
       SELECT user_id, folder, count(*)::int AS total, count(*) FILTER (WHERE received AND NOT is_read)::int AS unread
         FROM message_copies GROUP BY user_id, folder
       UNION ALL
       SELECT user_id, 'starred', count(*)::int, count(*) FILTER (WHERE received AND NOT is_read)::int
         FROM message_copies WHERE is_starred AND folder <> 'trash' GROUP BY user_id)
     SELECT count(*) AS n FROM recount r FULL JOIN (SELECT * FROM mailbox_counters WHERE total <> 0 OR unread <> 0) c USING (user_id, folder)
      WHERE r.total IS DISTINCT FROM c.total OR r.unread IS DISTINCT FROM c.unread`,
  );
  if (Number(counters.rows[0].n)) failures.push(`${counters.rows[0].n} counters differ from a full recount`);
  return failures;
}

async function main(adminUrl: string): Promise<void> {
  const name = "bench_mail_migration";
  const pool = faultTolerantPool({ connectionString: await createDatabase(adminUrl, name), max: 4 });
  try {
    await migrate(
      pool,
      MIGRATIONS.filter((m) => m.version <= OLD_SHAPE),
    );
    let started = performance.now();
    await seedOldShapeMail(pool, { users: USERS, messages: MESSAGES });
    console.log(`seeded ${MESSAGES} old-shape messages for ${USERS} users in ${seconds(started).toFixed(1)} s (load ${load()})`);

    const writer = oldCodeWriter(pool);
    const total = performance.now();
    for (const version of MAIL_MODEL) {
      started = performance.now();
      await migrate(
        pool,
        MIGRATIONS.filter((m) => m.version <= version),
        { lockTimeoutMs: 5_000 },
      );
      const step = MIGRATIONS.find((m) => m.version === version)!;
      console.log(`migration ${version} (${step.name}): ${seconds(started).toFixed(1)} s`);
    }
    const elapsed = seconds(total);
    await writer.stop();
    const { rows } = await pool.query<{ copies: string }>("SELECT count(*) AS copies FROM message_copies");
    console.log(
      `12-14 on ${MESSAGES} messages: ${elapsed.toFixed(1)} s, ${Math.round(MESSAGES / elapsed)} messages/s, ${rows[0].copies} copies (load ${load()})`,
    );
    const w = writer.done;
    console.log(
      `the old code meanwhile: ${w.inserts} inserts, ${w.reads} reads, ${w.deletions} one-side deletions, ${w.erasures} erasures tried, ${w.errors} failed`,
    );
    started = performance.now();
    const failures = await check(pool);
    if (w.errors) failures.push(`${w.errors} of the old code's writes failed`);
    console.log(
      failures.length
        ? `MISSED: ${failures.join("; ")}`
        : `every message has its copies and every counter equals a full recount (checked in ${seconds(started).toFixed(1)} s)`,
    );
    if (failures.length) process.exitCode = 1;
  } finally {
    await pool.end();
    await dropDatabase(adminUrl, name).catch(() => {});
  }
}

withBenchDatabase(main).catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack : error);
  process.exitCode = 1;
});
