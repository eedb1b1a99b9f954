/**
 * The named list statements on a generic plan, on a real PostgreSQL server. The inbox and outbox
 * pages (and GET /messages/ by folder and read state) are prepared once per connection; after five
 * runs PostgreSQL may keep one plan made without the parameters' values. Each such plan must still
 * read one page of one user's copies from the mailbox index in its order, for every user: here a
 * reader whose mail is older than a burst of mail between others (as test/api/list-plans.test.ts
 * skews it), and a user with a handful of messages. PostgreSQL keeps a generic plan only when it
 * looks as cheap as planning each run, which a page's estimate decides: every named shape must get
 * one here, at any mailbox size, and be held to the same walk.
 * 200 000 messages under `npm run test:full-scale`, fewer under `npm test` (test/support/scale.ts);
 * LIST_GENERIC_SCALE_ROWS sets any size.
 */
import type { PoolClient } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { getPool } from "../../shared/data/db";
import { readThreadPage } from "../../shared/data/mailbox";
import {
  inboxQuery,
  listQuery,
  outboxQuery,
  preparedListQuery,
  type ListFilters,
  type Page,
  type PageRow,
  type SqlQuery,
} from "../../shared/data/messages";
import { useTestDatabase, type TestDatabase } from "../support/database";
import { explainExecute, type PlanNode } from "../support/plans";
import { scaleSize } from "../support/scale";

const ROWS = scaleSize("LIST_GENERIC_SCALE_ROWS", 200_000, 40_000);
const RECENT = ROWS / 4;
const USERS = 1000;
const READER = 1;
const WRITER = 2;
// Receives one message in a thousand.
const FEW = 5;
const PAGE = 50;
const MAX_BYTES = 1 << 20;

let db: TestDatabase;
let client: PoolClient;

beforeAll(async () => {
  // Seeding is one long statement; the app's request-sized timeout would cancel it.
  process.env.DB_STATEMENT_TIMEOUT_MS = "300000";
  db = await useTestDatabase();
  const pool = getPool();
  await pool.query(`INSERT INTO users (username, hashed_password) SELECT 'generic' || i, 'x' FROM generate_series(1, ${USERS}) i`);
  // Old-shape rows: the triggers of migration 12 give each its two copies. The reader receives every
  // fifth (half of those unread), the writer sends every fifth, FEW receives one in a thousand.
  await pool.query(
    `INSERT INTO messages (sender_id, recipient_id, title, body, is_read)
     SELECT CASE WHEN g % 5 = 1 THEN ${WRITER} ELSE 6 + g % ${USERS - 6} END,
            CASE WHEN g % 5 = 0 THEN ${READER} WHEN g % 1000 = 3 THEN ${FEW} ELSE 6 + (g * 7) % ${USERS - 6} END,
            'Older ' || g, 'body', NOT (g % 5 = 0 AND g % 10 <> 0)
       FROM generate_series(1, ${ROWS}) g`,
  );
  // Read: the reader's are the only unread copies, as in the benchmark's mailboxes, where a generic
  // plan of the unread across folders would read them all and sort (it estimates a user's unread
  // copies as few).
  await pool.query(
    `INSERT INTO messages (sender_id, recipient_id, title, body, is_read)
     SELECT 3, 4, 'Recent ' || g, 'body', true FROM generate_series(1, ${RECENT}) g`,
  );
  // Some of the reader's mail archived, some in trash: every folder but trash leaves those out.
  await pool.query(`UPDATE message_copies SET folder = 'archive' WHERE user_id = $1 AND received AND message_id % 7 = 0`, [READER]);
  await pool.query(`UPDATE message_copies SET folder = 'trash', trashed_at = now() WHERE user_id = $1 AND message_id % 11 = 0`, [READER]);
  await pool.query("VACUUM ANALYZE message_copies");
  await pool.query("ANALYZE messages");
  await pool.query("ANALYZE users");
  client = await pool.connect();
}, 600_000);

afterAll(async () => {
  client?.release();
  await db.close();
});

// The page's own walk: the nodes above and beside the per-row subplans (a message's attachments in order may sort its few rows).
const walkOf = (node: PlanNode): PlanNode[] => [
  node,
  ...(node.Plans ?? []).filter((p) => p["Parent Relationship"] !== "SubPlan").flatMap(walkOf),
];

/** The prepared statement's plan as the plan cache now serves it, run with the query's values. */
const executedPlan = (query: SqlQuery & { name: string }): Promise<PlanNode> => explainExecute(client, query.name, query.values);

async function preparedStatement(name: string) {
  const { rows } = await client.query<{ generic_plans: string; custom_plans: string; statement: string }>(
    "SELECT generic_plans, custom_plans, statement FROM pg_prepared_statements WHERE name = $1",
    [name],
  );
  return rows[0];
}

/** One page of rows read from `index` in its order: no sort, scan or bitmap, whatever the table holds. */
function expectPageWalk(plan: PlanNode, index: string, generic: boolean): void {
  const walk = walkOf(plan);
  const text = JSON.stringify(plan, null, 1);
  const scan = walk.find((n) => n["Index Name"] === index);
  expect(scan, text).toBeDefined();
  // A generic plan: the index condition holds the parameter, not the user's id.
  if (generic) expect(scan?.["Index Cond"], text).toMatch(/\$1/);
  expect(
    walk.filter((n) => /Sort|Seq Scan|Bitmap/.test(n["Node Type"])),
    text,
  ).toEqual([]);
  expect(scan!["Actual Rows"] * scan!["Actual Loops"], text).toBeLessThanOrEqual(PAGE + 1);
}

describe(`named list statements with ${ROWS} + ${RECENT} messages`, () => {
  const middle = Math.floor(ROWS / 2);
  const INBOX = "message_copies_folder_idx";
  const UNREAD = "message_copies_unread_idx";
  const LIVE = "message_copies_live_idx";
  const page = { limit: PAGE, maxBytes: MAX_BYTES };
  // [case, user, filters, page, the index the page walks, whether the plan must be generic]
  const cases: [string, number, ListFilters, Page, string, boolean][] = [
    ["inbox", READER, { folder: "inbox" }, page, INBOX, true],
    ["inbox, before_id", READER, { folder: "inbox" }, { ...page, before_id: middle }, INBOX, true],
    ["inbox, unread", READER, { folder: "inbox", unread: true }, page, UNREAD, true],
    ["inbox, unread, before_id", READER, { folder: "inbox", unread: true }, { ...page, before_id: middle }, UNREAD, true],
    ["inbox, read", READER, { folder: "inbox", unread: false }, page, INBOX, true],
    ["inbox of a small mailbox", FEW, { folder: "inbox" }, page, INBOX, true],
    ["outbox", WRITER, { folder: "sent" }, page, INBOX, true],
    ["outbox, before_id", WRITER, { folder: "sent" }, { ...page, before_id: middle }, INBOX, true],
    ["archive", READER, { folder: "archive" }, page, INBOX, true],
    ["every folder but trash", READER, {}, page, LIVE, true],
    ["read in every folder but trash", READER, { unread: false }, page, LIVE, true],
  ];

  it("the inbox and outbox pages are named; shapes whose plan depends on a value are not", () => {
    expect(inboxQuery(READER, page).name).toBe(preparedListQuery(READER, { folder: "inbox" }, page).name);
    expect(inboxQuery(READER, { ...page, unread: true }).name).toMatch(/^list-/);
    expect(outboxQuery(WRITER, { ...page, before_id: middle }).name).toMatch(/^list-/);
    const unnamed: ListFilters[] = [
      { from: 3 },
      { to: 3 },
      { until: new Date() },
      { folder: "inbox", since: new Date() },
      { starred: true },
      // unread_idx is in page order only under one folder (shared/data/messages.ts, mayRunGeneric).
      { unread: true },
    ];
    for (const filters of unnamed) expect(preparedListQuery(READER, filters, page).name, JSON.stringify(filters)).toBeUndefined();
    expect(inboxQuery(READER, { ...page, q: "word" }).name).toBeUndefined();
  });

  it.each(cases)(
    "%s: named, answers as the unnamed statement, its plan (generic: %s) walks a page of the mailbox index in order",
    async (_, userId, filters, page, index, generic) => {
      // As the endpoints run it: the page written as its answer (pageJsonSql) around the same walk.
      const query = preparedListQuery(userId, filters, page, "json");
      const { name } = query;
      expect(name, "the shape is named").toMatch(/^list-[0-9a-f]{16}$/);
      const unnamed = listQuery(userId, filters, page, "json");
      expect(unnamed.name).toBeUndefined();
      for (let run = 0; run < 8; run++) {
        const [prepared, plain] = [await client.query<PageRow>(query), await client.query<PageRow>(unnamed)];
        expect(prepared.rows).toEqual(plain.rows);
        expect(prepared.rows.length).toBeGreaterThan(0);
      }
      const statement = await preparedStatement(name as string);
      expect(statement, "prepared on this connection").toBeDefined();
      if (generic) expect(Number(statement.generic_plans), JSON.stringify(statement)).toBeGreaterThan(0);

      expectPageWalk(await executedPlan(query as SqlQuery & { name: string }), index, generic);
      // Whether PostgreSQL keeps a generic plan depends on its estimates for the data at hand (the
      // benchmark's mailboxes got one where these did not): whichever it keeps must walk the page.
      await client.query("SET plan_cache_mode = force_generic_plan");
      try {
        const genericPlan = await executedPlan(query as SqlQuery & { name: string });
        expectPageWalk(genericPlan, index, true);
        // The generic plan's estimate of the page's rows: estimated as a tenth of the user's copies,
        // a large mailbox's page looked dearer than planning it with its values each time, and
        // PostgreSQL planned every page (shared/data/messages.ts, plannedPageRows).
        const page = walkOf(genericPlan).find((n) => n["Node Type"] === "Limit");
        expect(page?.["Plan Rows"], JSON.stringify(genericPlan, null, 1)).toBeLessThanOrEqual(PAGE);
      } finally {
        await client.query("RESET plan_cache_mode");
      }
    },
  );
});

describe("the thread page, two named texts", () => {
  it("pages with and without after_id, a cursor beyond int4 included", async () => {
    const { rows } = await getPool().query<{ id: number }>(
      "SELECT message_id AS id FROM message_copies WHERE user_id = $1 AND received ORDER BY message_id DESC LIMIT 1",
      [READER],
    );
    const id = rows[0].id;
    const page = { limit: PAGE, maxBytes: MAX_BYTES };
    const ids = async (p: typeof page & { after_id?: number }) => {
      const written = await readThreadPage(id, READER, p);
      return written && (JSON.parse(written.body) as { id: number }[]).map((m) => m.id);
    };
    expect(await ids(page)).toEqual([id]);
    expect(await ids({ ...page, after_id: id - 1 })).toEqual([id]);
    expect(await ids({ ...page, after_id: id })).toEqual([]);
    expect(await ids({ ...page, after_id: 2 ** 40 })).toEqual([]);
  });
});
