/**
 * The unread count is a counter the database keeps in the same transaction as every change
 * to messages (migration 6): exact under concurrency, filled in for existing databases, and
 * read with one primary-key lookup however many messages are unread.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { getPool } from "../../shared/data/db";
import { markRead } from "../../shared/data/mailbox";
import { countUnread, sendMessage } from "../../shared/data/messages";
import { migrate } from "../../shared/data/migrate";
import { MIGRATIONS } from "../../shared/data/migrations";
import { useTestDatabase, withScratchDatabase, type TestDatabase } from "../support/database";
import { newUser } from "../support/users";

let db: TestDatabase;
beforeAll(async () => {
  db = await useTestDatabase();
});
afterAll(async () => {
  await db.close();
});

const rowCount = async (recipientId: number) =>
  (
    await getPool().query<{ n: number }>(
      "SELECT count(*)::int AS n FROM message_copies WHERE user_id = $1 AND received AND NOT is_read AND folder = 'inbox'",
      [recipientId],
    )
  ).rows[0].n;

describe("the unread counter", () => {
  it("is exact after 2,000 concurrent sends from 20 clients: every send sees a different count", async () => {
    const recipient = await newUser("busy");
    const senders = await Promise.all(Array.from({ length: 20 }, () => newUser("sender")));
    const seen: number[] = [];
    await Promise.all(
      senders.map(async (sender) => {
        for (let i = 0; i < 100; i++) {
          const sent = await sendMessage(sender.id, { recipient_id: recipient.id, title: `t${i}`, body: "b" });
          if (sent.kind !== "sent") throw new Error(`send failed: ${sent.kind}`);
          seen.push(sent.recipientUnreadCount);
        }
      }),
    );
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 2000 }, (_, i) => i + 1));
    expect(await countUnread(recipient.id)).toBe(2000);
    expect(await rowCount(recipient.id)).toBe(2000);
  }, 120_000);

  it("drops by exactly one when 50 concurrent reads hit one message", async () => {
    const [sender, recipient] = [await newUser(), await newUser()];
    const first = await sendMessage(sender.id, { recipient_id: recipient.id, title: "a", body: "b" });
    await sendMessage(sender.id, { recipient_id: recipient.id, title: "c", body: "d" });
    if (first.kind !== "sent") throw new Error(`send failed: ${first.kind}`);
    const outcomes = await Promise.all(Array.from({ length: 50 }, () => markRead(first.message.id, recipient.id)));
    expect(outcomes.filter((o) => o.kind === "first_read")).toHaveLength(1);
    expect(await countUnread(recipient.id)).toBe(1);
  });

  it("follows every kind of change: unread again, many rows at once, folders, deletes, the old shape's writes", async () => {
    const [sender, recipient] = [await newUser(), await newUser()];
    for (let i = 0; i < 5; i++) await sendMessage(sender.id, { recipient_id: recipient.id, title: `m${i}`, body: "b" });
    const pool = getPool();
    const copies = "FROM message_copies WHERE user_id = $1 AND received";
    await pool.query(`UPDATE message_copies SET is_read = true WHERE user_id = $1 AND received`, [recipient.id]);
    expect(await countUnread(recipient.id)).toBe(0);
    await pool.query(
      `UPDATE message_copies SET is_read = false WHERE user_id = $1 AND message_id IN (SELECT message_id ${copies} ORDER BY message_id LIMIT 2)`,
      [recipient.id],
    );
    expect(await countUnread(recipient.id)).toBe(2);
    await pool.query(`UPDATE message_copies SET is_starred = true WHERE user_id = $1`, [recipient.id]);
    expect(await countUnread(recipient.id)).toBe(2);
    // Archived: no longer in the inbox's count, still in the archive's.
    await pool.query(
      `UPDATE message_copies SET folder = 'archive' WHERE user_id = $1 AND message_id = (SELECT min(message_id) ${copies})`,
      [recipient.id],
    );
    expect(await countUnread(recipient.id)).toBe(1);
    expect(await rowCount(recipient.id)).toBe(1);
    await pool.query(`DELETE FROM message_copies WHERE user_id = $1 AND message_id = (SELECT max(message_id) ${copies} AND NOT is_read)`, [
      recipient.id,
    ]);
    expect(await countUnread(recipient.id)).toBe(0);
    // A write in the old shape (the old code while it drains) reaches the copies and the counter.
    await pool.query("INSERT INTO messages (sender_id, recipient_id, title, body) VALUES ($1, $2, 'old shape', 'b')", [
      sender.id,
      recipient.id,
    ]);
    expect(await countUnread(recipient.id)).toBe(1);
    await pool.query("UPDATE messages SET is_read = true WHERE title = 'old shape' AND recipient_id = $1", [recipient.id]);
    expect(await countUnread(recipient.id)).toBe(0);
    expect(await rowCount(recipient.id)).toBe(0);
  });

  it("is one primary-key lookup, whatever the number of unread messages", async () => {
    // On a table of a few rows a sequential scan is cheaper and the planner may pick it once
    // the table is analyzed; the question is whether a lookup by primary key serves the count.
    const client = await getPool().connect();
    let plan: string;
    try {
      await client.query("BEGIN");
      await client.query("SET LOCAL enable_seqscan = off");
      const { rows } = await client.query<{ "QUERY PLAN": string }>(
        "EXPLAIN SELECT unread AS n FROM mailbox_counters WHERE user_id = 1 AND folder = 'inbox'",
      );
      plan = rows.map((r) => r["QUERY PLAN"]).join("\n");
    } finally {
      await client.query("ROLLBACK");
      client.release();
    }
    expect(plan).toMatch(/Index Scan using mailbox_counters_pkey|Index Only Scan using mailbox_counters_pkey/);
    expect(plan).not.toMatch(/message_copies/);
  });
});

describe("migration 6", () => {
  it("fills the counter of an existing database from its messages", async () => {
    await withScratchDatabase(2, async (pool) => {
      await migrate(
        pool,
        MIGRATIONS.filter((m) => m.version < 6),
      );
      await pool.query("INSERT INTO users (username, hashed_password) VALUES ('a', 'x'), ('b', 'x'), ('c', 'x')");
      await pool.query(
        `INSERT INTO messages (sender_id, recipient_id, title, body, is_read)
         SELECT 1, 2 + g % 2, 't', 'b', g % 3 = 0 FROM generate_series(1, 30) g`,
      );
      await migrate(pool);
      const { rows } = await pool.query<{ id: number; unread_count: number; actual: number }>(
        `SELECT u.id, u.unread_count, (SELECT count(*)::int FROM messages m WHERE m.recipient_id = u.id AND NOT m.is_read) AS actual
           FROM users u ORDER BY u.id`,
      );
      expect(rows.map((r) => r.unread_count)).toEqual(rows.map((r) => r.actual));
      expect(rows.map((r) => r.unread_count)).toEqual([0, 10, 10]);
      // Migrations 12-13 give the same rows their copies, and the counters follow.
      const counters = await pool.query<{ user_id: number; unread: number }>(
        "SELECT user_id, unread FROM mailbox_counters WHERE folder = 'inbox' ORDER BY user_id",
      );
      expect(counters.rows.map((r) => [r.user_id, r.unread])).toEqual([
        [2, 10],
        [3, 10],
      ]);
    });
  });
});
