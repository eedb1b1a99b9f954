/**
 * The triggers that run at the end of a send's statement (migration 26): a send writes its copies
 * and its counters once each, in its own statement; the old shape's trigger and the copies'
 * counting trigger find nothing of theirs and write nothing. Every statement that inserts into the
 * copies or the counters is recorded here by a statement trigger of the test's own. No foreign key
 * checks a copy against its message (migration 27) or its owner (migration 28); triggers take the
 * copies with their message, and with their owner's row.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { getPool } from "../../shared/data/db";
import { sendMessage } from "../../shared/data/messages";
import { miscounted } from "../support/counters";
import { useTestDatabase, type TestDatabase } from "../support/database";
import { newUser } from "../support/users";

let db: TestDatabase;
beforeAll(async () => {
  db = await useTestDatabase();
  await getPool().query(`
    CREATE TABLE statement_log (tbl text NOT NULL, op text NOT NULL);
    CREATE FUNCTION log_statement() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO statement_log VALUES (TG_TABLE_NAME, TG_OP); RETURN NULL; END $$;
    CREATE TRIGGER log_copies AFTER INSERT ON message_copies FOR EACH STATEMENT EXECUTE FUNCTION log_statement();
    CREATE TRIGGER log_counters AFTER INSERT ON mailbox_counters FOR EACH STATEMENT EXECUTE FUNCTION log_statement();`);
});
afterAll(async () => {
  await db.close();
});

/** The statements that inserted into the copies and the counters while `work` ran, per table. */
async function insertsDuring(work: () => Promise<unknown>): Promise<Record<string, number>> {
  const pool = getPool();
  await pool.query("TRUNCATE statement_log");
  await work();
  const { rows } = await pool.query<{ tbl: string; n: number }>("SELECT tbl, count(*)::int AS n FROM statement_log GROUP BY tbl");
  return Object.fromEntries(rows.map((r) => [r.tbl, r.n]));
}

describe("a send's statement", () => {
  it("inserts into the copies and the counters once each: the triggers at its end write nothing", async () => {
    const [a, b, c] = await Promise.all([newUser("triggers"), newUser("triggers"), newUser("triggers")]);
    const sent = await insertsDuring(() => sendMessage(a.id, { to: [b.id], cc: [c.id], title: "t", body: "b" }));
    expect(sent).toEqual({ message_copies: 1, mailbox_counters: 1 });
  });

  it("still leaves the old shape's copies, and their counting, to the triggers", async () => {
    const [a, b] = await Promise.all([newUser("triggers"), newUser("triggers")]);
    const written = await insertsDuring(() =>
      getPool().query("INSERT INTO messages (sender_id, recipient_id, title, body) VALUES ($1, $2, 'old', 'shape')", [a.id, b.id]),
    );
    expect(written).toEqual({ message_copies: 1, mailbox_counters: 1 });
    const { rows } = await getPool().query<{ n: number }>(
      "SELECT count(*)::int AS n FROM message_copies c JOIN messages m ON m.id = c.message_id WHERE m.title = 'old' AND m.sender_id = $1",
      [a.id],
    );
    expect(rows[0].n).toBe(2);
  });

  it("checks no key per copy, and a message deleted with copies left takes them and their counts with it", async () => {
    const pool = getPool();
    const { rows: keys } = await pool.query(
      "SELECT conname FROM pg_constraint WHERE conrelid = 'message_copies'::regclass AND confrelid = 'messages'::regclass",
    );
    expect(keys).toEqual([]);
    const [a, b] = await Promise.all([newUser("triggers"), newUser("triggers")]);
    const sent = await sendMessage(a.id, { to: [b.id], title: "t", body: "b" });
    if (sent.kind !== "sent") throw new Error(sent.kind);
    // As the old code's delete did once both sides had deleted a message; here with both copies left.
    await pool.query("DELETE FROM messages WHERE id = $1", [sent.message.id]);
    const { rows } = await pool.query<{ copies: number; counted: number }>(
      `SELECT (SELECT count(*)::int FROM message_copies WHERE message_id = $1) AS copies,
              (SELECT coalesce(sum(total), 0)::int FROM mailbox_counters WHERE user_id = ANY($2)) AS counted`,
      [sent.message.id, [a.id, b.id]],
    );
    expect(rows[0]).toEqual({ copies: 0, counted: 0 });
  });

  it("checks no key per copy against its owner, and a user's row deleted takes its copies first, every count exact", async () => {
    const pool = getPool();
    const { rows: keys } = await pool.query(
      "SELECT conname FROM pg_constraint WHERE conrelid = 'message_copies'::regclass AND contype = 'f'",
    );
    expect(keys).toEqual([]);
    const [a, b, c] = await Promise.all([newUser("triggers"), newUser("triggers"), newUser("triggers")]);
    const toB = await sendMessage(a.id, { to: [c.id], cc: [b.id], title: "to c, cc b", body: "b" });
    const fromB = await sendMessage(b.id, { to: [a.id], title: "from b", body: "b" });
    if (toB.kind !== "sent" || fromB.kind !== "sent") throw new Error("not sent");
    // The app never deletes a user's row (an account's deletion leaves a tombstone); an operator may.
    await pool.query("DELETE FROM users WHERE id = $1", [b.id]);
    const { rows } = await pool.query<{ message_id: number; user_id: number }>(
      "SELECT message_id, user_id FROM message_copies WHERE message_id = ANY($1) ORDER BY message_id, user_id",
      [[toB.message.id, fromB.message.id]],
    );
    // The message b sent goes with its sender (the original's key on messages); the one b was copied on stays for a and c.
    expect(rows).toEqual([
      { message_id: toB.message.id, user_id: Math.min(a.id, c.id) },
      { message_id: toB.message.id, user_id: Math.max(a.id, c.id) },
    ]);
    expect(await miscounted([a.id, c.id])).toEqual([]);
  });
});
