/**
 * The inbox and outbox plans on a real PostgreSQL server (the rows written in the old shape, so the
 * triggers of migration 12 give them their copies), with mail skewed the way a busy
 * service skews it: the reader's mail is older, and many recent messages went to other users.
 * The planner assumes each user's mail is spread evenly over the ids; were the lists ordered by
 * plain id, it would walk the primary key backwards through all the recent mail to find one page.
 * The tables are analyzed but not vacuumed (no all-visible pages), as after a burst of writes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { getPool } from "../../shared/data/db";
import { inboxQuery, inboxRide, listInbox, listOutbox, outboxQuery, type SqlQuery } from "../../shared/data/messages";
import { useTestDatabase, type TestDatabase } from "../support/database";
import { explainQuery, nodesOf } from "../support/plans";

const OLD = 30_000;
const RECENT = 10_000;
const USERS = 50;
const READER = 1;
const WRITER = 2;

let db: TestDatabase;

beforeAll(async () => {
  db = await useTestDatabase();
  const pool = getPool();
  await pool.query(`INSERT INTO users (username, hashed_password) SELECT 'plan' || i, 'x' FROM generate_series(1, ${USERS}) i`);
  // The reader receives every fifth older message (half of them unread), the writer sends every fifth.
  await pool.query(
    `INSERT INTO messages (sender_id, recipient_id, title, body, is_read)
     SELECT CASE WHEN g % 5 = 1 THEN ${WRITER} ELSE 3 + g % ${USERS - 2} END,
            CASE WHEN g % 5 = 0 THEN ${READER} ELSE 3 + (g * 7) % ${USERS - 2} END,
            'Older ' || g, 'body', NOT (g % 5 = 0 AND g % 10 <> 0)
       FROM generate_series(1, ${OLD}) g`,
  );
  // Then a burst between two other users: the newest ids hold none of the reader's or writer's mail.
  await pool.query(
    `INSERT INTO messages (sender_id, recipient_id, title, body) SELECT 3, 4, 'Recent ' || g, 'body' FROM generate_series(1, ${RECENT}) g`,
  );
  await pool.query("ANALYZE messages");
  await pool.query("ANALYZE message_copies");
}, 120_000);

afterAll(async () => {
  await db.close();
});

async function planOf(query: SqlQuery): Promise<string> {
  const { rows } = await getPool().query<{ "QUERY PLAN": string }>({ text: `EXPLAIN ${query.text}`, values: query.values });
  return rows.map((r) => r["QUERY PLAN"]).join("\n");
}

// Each page is a walk of one user's copies in an index whose order is the page's: no sort, no
// backward walk of a primary key.
const INBOX = /Index Scan using message_copies_folder_idx on message_copies c/;
const UNREAD = /(Index|Bitmap Index) Scan (using|on) message_copies_unread_idx/;

describe(`inbox and outbox plans after ${RECENT} recent messages to others`, () => {
  const middle = OLD / 2;
  const cases: [string, SqlQuery, RegExp][] = [
    ["inbox", inboxQuery(READER, { limit: 50 }), INBOX],
    ["inbox, before_id", inboxQuery(READER, { limit: 50, before_id: middle }), INBOX],
    ["inbox, unread", inboxQuery(READER, { limit: 50, unread: true }), UNREAD],
    ["inbox, unread, before_id", inboxQuery(READER, { limit: 50, unread: true, before_id: middle }), UNREAD],
    ["inbox, read", inboxQuery(READER, { limit: 50, unread: false }), INBOX],
    ["outbox", outboxQuery(WRITER, { limit: 50 }), INBOX],
    ["outbox, before_id", outboxQuery(WRITER, { limit: 50, before_id: middle }), INBOX],
    // As the endpoints ask: cut at the byte bound by a running sum in the index order, still no sort.
    ["inbox, bounded in bytes", inboxQuery(READER, { limit: 50, maxBytes: 1 << 20 }), INBOX],
    ["inbox, unread, bounded in bytes", inboxQuery(READER, { limit: 50, unread: true, maxBytes: 1 << 20 }), UNREAD],
    ["outbox, before_id, bounded in bytes", outboxQuery(WRITER, { limit: 50, before_id: middle, maxBytes: 1 << 20 }), INBOX],
    // As the endpoints send them: the same walk, written as the answer's JSON without sorting it again.
    ["inbox, written as JSON", inboxQuery(READER, { limit: 50, maxBytes: 1 << 20 }, "json"), INBOX],
    ["inbox, unread, written as JSON", inboxQuery(READER, { limit: 50, unread: true, maxBytes: 1 << 20 }, "json"), UNREAD],
    ["outbox, before_id, written as JSON", outboxQuery(WRITER, { limit: 50, before_id: middle, maxBytes: 1 << 20 }, "json"), INBOX],
  ];

  it.each(cases)("%s: a page is read from the mailbox index in order, never from a primary-key scan", async (name, query, index) => {
    const plan = await planOf(query);
    expect(plan, plan).toMatch(index);
    expect(plan, plan).not.toMatch(/Backward|message_copies_pkey|Seq Scan on message/);
    // The planner may read a short range of unread copies as a bitmap and sort it: still one user's rows.
    // Only the page's own walk counts: a subplan run per row (a message's attachments in order) may sort its few rows.
    const walk = plan.split(/^\s*SubPlan/m)[0];
    if (name !== "inbox, unread, before_id") expect(walk, plan).not.toMatch(/Sort/);
  });

  it("the pages hold the newest matching messages, newest first", async () => {
    const { rows } = await getPool().query<{ id: number }>(
      "SELECT id FROM messages WHERE recipient_id = $1 AND NOT is_read ORDER BY id DESC LIMIT 50",
      [READER],
    );
    const unread = await listInbox(READER, { limit: 50, unread: true });
    expect(unread.map((m) => m.id)).toEqual(rows.map((r) => r.id));
    const second = await listInbox(READER, { limit: 50, before_id: unread[49].id });
    expect(second.every((m) => m.recipient_id === READER && m.id < unread[49].id)).toBe(true);
    expect(second.map((m) => m.id)).toEqual([...second.map((m) => m.id)].sort((a, b) => b - a));
    const sent = await listOutbox(WRITER, { limit: 50 });
    expect(sent).toHaveLength(50);
    expect(sent[0].id).toBe(OLD - 4); // the writer's newest: g % 5 = 1
  });

  // Mailboxes here hold hundreds of copies each: a plan made for a tenth of a user's copies looked
  // dearer than planning each page with its values, and PostgreSQL planned every page again.
  it.each([
    ["inbox", inboxQuery(READER, { limit: 50, maxBytes: 1 << 20 })],
    ["inbox, unread", inboxQuery(READER, { limit: 50, unread: true, maxBytes: 1 << 20 })],
    ["outbox", outboxQuery(WRITER, { limit: 50, maxBytes: 1 << 20 })],
    ["outbox, no byte bound", outboxQuery(WRITER, { limit: 20 })],
    ["inbox, written as JSON", inboxQuery(READER, { limit: 50, maxBytes: 1 << 20 }, "json")],
  ])("%s: a named page keeps one generic plan, not one planned each time", async (_, query) => {
    const client = await getPool().connect();
    try {
      for (let run = 0; run < 8; run++) await client.query(query);
      const { rows } = await client.query<{ generic_plans: string; custom_plans: string }>(
        "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name = $1",
        [query.name],
      );
      expect(Number(rows[0].generic_plans), JSON.stringify(rows[0])).toBeGreaterThan(0);
    } finally {
      client.release();
    }
  });
});

describe("the inbox page riding on the user's lookup", () => {
  // The user's columns come with each row of the page; its time was formatted again on each.
  it("formats the user's time once, in the user's row, not on each row of the page", async () => {
    const ride = inboxRide({ limit: 50, maxBytes: 1 << 20 })!;
    const query = { text: ride.statements.byId.text, values: [READER, ...ride.keys, `plan${READER}`] };
    const plan = await explainQuery(getPool(), query, "ANALYZE, VERBOSE");
    // Where a node computes it; a node above that passes the value on writes it in parentheses.
    const formatting = nodesOf(plan).filter((node) => node.Output?.some((column) => column.startsWith("to_char((u.created_at")));
    const detail = JSON.stringify(plan, null, 1);
    expect(plan["Actual Rows"], "the page's rows come out of the top node").toBe(50);
    expect(formatting.length, detail).toBeGreaterThan(0);
    expect(
      formatting.map((node) => node["Actual Rows"] * node["Actual Loops"]),
      detail,
    ).toEqual(formatting.map(() => 1));
  });
});
