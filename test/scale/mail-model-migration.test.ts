/**
 * Migrations 12-14 on a database holding messages of the old shape (one recipient, read and
 * deletion state on the row), on a real PostgreSQL server, while the old code goes on writing:
 * every message ends with exactly its parties' copies, per-side deletions and read state carried
 * over, the counters equal to a full recount, and no write waits long.
 * 1 000 000 rows under `npm run test:full-scale`, fewer under `npm test` (test/support/scale.ts);
 * MAIL_MIGRATION_ROWS sets any size. The figures are in docs/benchmarks.md.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { getPool } from "../../shared/data/db";
import { migrate } from "../../shared/data/migrate";
import { MIGRATIONS } from "../../shared/data/migrations";
import type { TestDatabase } from "../support/database";
import { seedOldShapeMail } from "../support/old-shape-mail";
import { scaleDatabaseBefore, scaleSize } from "../support/scale";

const ROWS = scaleSize("MAIL_MIGRATION_ROWS", 1_000_000, 50_000);
const USERS = 1000;

let db: TestDatabase;
const figures: Record<string, string> = {};

beforeAll(async () => {
  // The database as the old code left it: every migration before the mail model.
  db = await scaleDatabaseBefore(12);
  const started = Date.now();
  await seedOldShapeMail(getPool(), { users: USERS, messages: ROWS });
  figures.seed = `${ROWS} old-shape rows in ${Date.now() - started} ms`;
}, 1_800_000);

afterAll(async () => {
  console.info(`mail model migration: ${JSON.stringify(figures)}`);
  await db?.close();
});

describe(`migrations 12-14 on ${ROWS} messages of the old shape`, () => {
  it("move every message to copies while the old code writes, reads and deletes, with no long wait", async () => {
    const pool = getPool();
    let writing = true;
    const latencies: number[] = [];
    // The old code's writes, one statement each as it made them.
    const oldCode = (async () => {
      let i = 0;
      while (writing) {
        const t = Date.now();
        i++;
        if (i % 3 === 0)
          await pool.query("UPDATE messages SET is_read = true, read_at = now() WHERE id = $1 AND NOT is_read", [(i * 7919) % ROWS]);
        else if (i % 3 === 1)
          await pool.query("UPDATE messages SET recipient_deleted_at = now() WHERE id = $1 AND recipient_deleted_at IS NULL", [
            (i * 104729) % ROWS,
          ]);
        else
          await pool.query(
            "INSERT INTO messages (sender_id, recipient_id, title, body) VALUES (2, 1, 'during', 'written by the old code')",
          );
        latencies.push(Date.now() - t);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    const started = Date.now();
    const result = await migrate(pool, MIGRATIONS, { lockWaitMs: 1_800_000 });
    const took = Date.now() - started;
    writing = false;
    await oldCode;
    expect(result.applied).toEqual(expect.arrayContaining([12, 13, 14]));
    latencies.sort((a, b) => a - b);
    const max = latencies[latencies.length - 1];
    figures.migrate = `${took} ms; ${latencies.length} old-code writes meanwhile, p50 ${latencies[latencies.length >> 1]} ms, max ${max} ms`;
    // Each batch holds its rows for one short transaction; no write waits for the whole move.
    expect(max).toBeLessThan(Math.max(5_000, took / 10));
  }, 1_800_000);

  it("leaves each message exactly the copies of the sides that have not deleted it, with their read state", async () => {
    const pool = getPool();
    const mismatches = await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM (
         SELECT sender_id AS user_id, id AS message_id, false AS received, true AS is_read FROM messages WHERE sender_deleted_at IS NULL
         UNION ALL
         SELECT recipient_id, id, true, is_read FROM messages WHERE recipient_deleted_at IS NULL
       ) expected
       FULL JOIN (SELECT user_id, message_id, received, is_read FROM message_copies) actual USING (user_id, message_id, received)
       WHERE expected.is_read IS DISTINCT FROM actual.is_read`,
    );
    expect(mismatches.rows[0].n).toBe(0);
  }, 600_000);

  it("counts exactly what a full recount finds", async () => {
    const { rows } = await getPool().query<{ n: number }>(
      `SELECT count(*)::int AS n FROM (
         SELECT user_id, folder, count(*)::int AS total, count(*) FILTER (WHERE received AND NOT is_read)::int AS unread
           FROM message_copies GROUP BY user_id, folder) actual
       FULL JOIN mailbox_counters c USING (user_id, folder)
       WHERE (actual.total, actual.unread) IS DISTINCT FROM (c.total, c.unread) AND coalesce(c.total, 0) + coalesce(actual.total, 0) > 0`,
    );
    expect(rows[0].n).toBe(0);
  }, 600_000);

  it("never names as in_reply_to or thread_id a message that side was never a party to", async () => {
    const { rows } = await getPool().query<{ n: number }>(
      `SELECT count(*)::int AS n FROM message_copies c
        WHERE EXISTS (SELECT 1 FROM messages p WHERE p.id IN (c.in_reply_to, c.thread_id)
                         AND p.sender_id <> c.user_id AND p.recipient_id <> c.user_id)`,
    );
    expect(rows[0].n).toBe(0);
  }, 600_000);
});
