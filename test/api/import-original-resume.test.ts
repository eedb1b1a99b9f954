/**
 * The import survives being killed: a run stopped with SIGKILL in the middle of the users and
 * then of the messages, run again, ends with exactly the original's rows, each once. Small batches
 * make each phase many batches long, so each kill lands part-way at a small size.
 */
import bcrypt from "bcryptjs";
import { Pool } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { withClient } from "../../shared/data/db";
import { migrate } from "../../shared/data/migrate";
import { createTestDatabase, type TestDatabase } from "../support/database";
import { createOriginalDatabase, INBOX_UNREAD, runImportCli } from "../support/original";

const USERS = 500;
const MESSAGES = 2_100;
const BATCH = "50";

let original: TestDatabase;
let target: TestDatabase;

beforeAll(async () => {
  original = await createOriginalDatabase();
  const hash = await bcrypt.hash("resume-password", 4);
  await withClient(original.url, async (c) => {
    await c.query(`INSERT INTO "Users" (username, password_hash) SELECT 'user' || i, $1 FROM generate_series(1, ${USERS}) i`, [hash]);
    await c.query(
      `INSERT INTO "Messages" (sender_id, recipient_id, title, body, "timestamp", is_read)
       SELECT 1 + i % ${USERS}, 1 + (i * 7) % ${USERS}, 'title ' || i, repeat('body ', 1 + i % 20), '2024-01-01'::timestamp + i * interval '1 minute',
              CASE i % 3 WHEN 0 THEN NULL WHEN 1 THEN false ELSE true END
         FROM generate_series(1, ${MESSAGES}) i`,
    );
  });
  target = await createTestDatabase();
  const pool = new Pool({ connectionString: target.url, max: 1 });
  await migrate(pool);
  await pool.end();
}, 120_000);
afterAll(async () => {
  await target?.close();
  await original?.close();
});

const count = (sql: string) => withClient(target.url, async (c) => Number((await c.query<{ n: string }>(sql)).rows[0].n));

/** Runs the import and kills it with SIGKILL as soon as it reports progress on `phase`. */
async function killDuring(phase: "users" | "messages"): Promise<void> {
  let killed = false;
  const run = await runImportCli(target.url, ["--from", original.url, "--batch-size", BATCH, "--report", "/dev/null"], (stderr, child) => {
    if (!killed && stderr.includes(`import-original: ${phase} `)) {
      killed = true;
      child.kill("SIGKILL");
    }
  });
  expect(run.signal, run.stderr).toBe("SIGKILL");
}

// The content of messages, in a form both databases compute the same way.
const MESSAGE_DIGEST = (table: string, ts: string) =>
  `SELECT md5(string_agg(concat_ws('|', id, sender_id, recipient_id, title, body, ${ts}, coalesce(is_read, false)), ',' ORDER BY id)) AS n FROM ${table}`;

describe("a killed import, run again", () => {
  it("ends with every original row exactly once and exact unread counters", async () => {
    await killDuring("users");
    const usersAfterKill = await count("SELECT count(*) AS n FROM import_original_users");
    expect(usersAfterKill).toBeGreaterThan(0);
    expect(usersAfterKill).toBeLessThan(USERS);
    expect(await count("SELECT count(*) AS n FROM users")).toBe(usersAfterKill);

    await killDuring("messages");
    const messagesAfterKill = await count("SELECT count(*) AS n FROM import_original_messages");
    expect(messagesAfterKill).toBeGreaterThan(0);
    expect(messagesAfterKill).toBeLessThan(MESSAGES);
    expect(await count("SELECT count(*) AS n FROM messages")).toBe(messagesAfterKill);

    const run = await runImportCli(target.url, ["--from", original.url, "--batch-size", BATCH, "--report", "/dev/null"]);
    expect(run.code, run.stderr).toBe(0);
    expect(await count("SELECT count(*) AS n FROM users")).toBe(USERS);
    expect(await count("SELECT count(*) AS n FROM messages")).toBe(MESSAGES);
    expect(await count("SELECT count(*) AS n FROM import_original_messages")).toBe(MESSAGES);

    const digest = MESSAGE_DIGEST("messages", `to_char("timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')`);
    const originalDigest = await withClient(
      original.url,
      async (c) => (await c.query<{ n: string }>(MESSAGE_DIGEST('"Messages"', `to_char("timestamp", 'YYYY-MM-DD HH24:MI:SS')`))).rows[0].n,
    );
    expect(await withClient(target.url, async (c) => (await c.query<{ n: string }>(digest)).rows[0].n)).toBe(originalDigest);
    expect(
      await count(
        `SELECT count(*) AS n FROM users u
           LEFT JOIN (SELECT recipient_id, count(*)::int AS c FROM messages WHERE NOT is_read GROUP BY 1) x ON x.recipient_id = u.id
          WHERE ${INBOX_UNREAD} <> coalesce(x.c, 0)`,
      ),
    ).toBe(0);
    expect(await count("SELECT sum(unread) AS n FROM mailbox_counters WHERE folder = 'inbox'")).toBe((MESSAGES * 2) / 3);
  }, 180_000);
});
