/**
 * The since and until filters of GET /messages/ at scale, on a real PostgreSQL server: a page is
 * read from the GiST index over (user, time, id) of migration 24, nearest first to the page's
 * highest id, so it costs its own rows however many newer copies the time bound leaves out; and
 * paging with before_id through a mailbox whose times are out of id order (as an import leaves
 * them) returns exactly the copies a scan of the whole mailbox finds.
 * 200 000 messages under `npm run test:full-scale`, fewer under `npm test` (test/support/scale.ts);
 * TIME_FILTER_SCALE_ROWS sets any size (1 000 000 by hand).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { getPool } from "../../shared/data/db";
import { listMessages, listQuery, type ListFilters, type Page, type SqlQuery } from "../../shared/data/messages";
import { migrate } from "../../shared/data/migrate";
import type { TestDatabase } from "../support/database";
import { explainQuery, nodesOf, type PlanNode } from "../support/plans";
import { scaleDatabaseBefore, scaleSize } from "../support/scale";

const ROWS = scaleSize("TIME_FILTER_SCALE_ROWS", 200_000, 50_000);
const USERS = 50;
// The reader receives every fifth message, oldest first, one a second (as bench/mail.ts seeds).
const READER = 1;
// Mail between two others, written with times shuffled against the ids.
const SHUFFLED = 3_000;
const SHUFFLED_SENDER = 3;
const SHUFFLED_READER = 4;
const PAGE = 50;
const INDEX = "message_copies_time_id_idx";

let db: TestDatabase;
const figures: Record<string, string> = {};

beforeAll(async () => {
  // A mailbox as it stood before migration 24, which then builds its index on the copies.
  db = await scaleDatabaseBefore(24);
  const pool = getPool();
  const started = Date.now();
  await pool.query(`INSERT INTO users (username, hashed_password) SELECT 'time' || i, 'x' FROM generate_series(1, ${USERS}) i`);
  await pool.query(
    `INSERT INTO messages (sender_id, recipient_id, title, body, "timestamp", is_read)
     SELECT 5 + g % 20, CASE WHEN g % 5 = 0 THEN ${READER} ELSE 5 + (g * 7) % ${USERS - 5} END,
            'Message ' || g, repeat('Lorem ipsum dolor sit amet. ', 8), now() - make_interval(secs => ${ROWS} - g), g % 3 = 0
       FROM generate_series(1, ${ROWS}) g`,
  );
  // 7919 is prime to SHUFFLED: every second of the range once, in no relation to the ids.
  await pool.query(
    `INSERT INTO messages (sender_id, recipient_id, title, body, "timestamp")
     SELECT ${SHUFFLED_SENDER}, ${SHUFFLED_READER}, 'Imported ' || g, repeat('x', 200 + g % 800),
            timestamptz '2020-01-01' + make_interval(secs => (g * 7919) % ${SHUFFLED})
       FROM generate_series(1, ${SHUFFLED}) g`,
  );
  // Some of the shuffled copies in trash: the default list leaves them out, folder=trash keeps only them.
  await pool.query(`UPDATE message_copies SET folder = 'trash', trashed_at = now() WHERE user_id = $1 AND message_id % 11 = 0`, [
    SHUFFLED_READER,
  ]);
  const built = Date.now();
  expect((await migrate(pool)).applied).toEqual(expect.arrayContaining([24]));
  figures.seed = `${ROWS} + ${SHUFFLED} messages in ${built - started} ms, migrations from 24 in ${Date.now() - built} ms`;
  await pool.query("VACUUM ANALYZE message_copies");
}, 600_000);

afterAll(async () => {
  console.info(`time filters at scale: ${JSON.stringify(figures)}`);
  await db?.close();
});

async function analyze(query: SqlQuery): Promise<{ top: PlanNode; nodes: PlanNode[]; text: string }> {
  const top = await explainQuery(getPool(), query, "ANALYZE, BUFFERS");
  return { top, nodes: nodesOf(top), text: JSON.stringify(top, null, 1) };
}

/** The instant of the reader's copy at this fraction of its ids. */
async function instantAt(fraction: number): Promise<Date> {
  const { rows } = await getPool().query<{ t: Date }>(
    `SELECT "timestamp" AS t FROM message_copies WHERE user_id = $1 AND message_id >= $2 ORDER BY message_id LIMIT 1`,
    [READER, Math.floor(ROWS * fraction)],
  );
  return rows[0].t;
}

describe(`the since and until filters with ${ROWS} messages`, () => {
  it("migration 24 replaced the time index by one valid GiST index", async () => {
    const { rows } = await getPool().query(
      `SELECT indexrelid::regclass::text AS name, indisvalid AS valid, am.amname AS method
         FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
        WHERE indrelid = 'message_copies'::regclass AND indexrelid::regclass::text LIKE 'message_copies_time%'`,
    );
    expect(rows).toEqual([{ name: INDEX, valid: true, method: "gist" }]);
  });

  it("a page of until (the oldest half), since or both reads its own rows from the GiST index, not the newer copies", async () => {
    const middle = await instantAt(0.5);
    const newest = await instantAt(0.9);
    const older = await instantAt(0.3);
    // The reader's copies the page must not walk past: those newer than the until bound.
    const { rows } = await getPool().query<{ n: number }>(
      `SELECT count(*)::int AS n FROM message_copies WHERE user_id = $1 AND "timestamp" > $2`,
      [READER, middle],
    );
    const newer = rows[0].n;
    expect(newer).toBeGreaterThan(ROWS / 20);
    const cases: [string, ListFilters, Omit<Page, "limit">][] = [
      ["until", { until: middle }, {}],
      ["until, before_id in the newer half", { until: middle }, { before_id: Math.floor(ROWS * 0.8) }],
      ["until, before_id in the older half", { until: middle }, { before_id: Math.floor(ROWS * 0.4) }],
      ["since", { since: newest }, {}],
      ["since and until", { since: older, until: middle }, {}],
      ["until, before_id beyond int4", { until: middle }, { before_id: 2 ** 40 }],
    ];
    for (const [name, filters, page] of cases) {
      const { top, nodes, text } = await analyze(listQuery(READER, filters, { limit: PAGE, maxBytes: 1 << 20, ...page }));
      const scan = nodes.find((n) => n["Relation Name"] === "message_copies");
      expect(scan?.["Index Name"], `${name}: ${text}`).toBe(INDEX);
      expect(scan?.["Node Type"], `${name}: ${text}`).toBe("Index Scan");
      // Read nearest first: the page stops after its own rows (and the one the running byte sum
      // looks at past them), no sort of the whole range.
      expect(
        nodes.filter((n) => n["Node Type"] === "Sort" && n["Actual Loops"] === 1),
        `${name}: ${text}`,
      ).toEqual([]);
      expect(scan!["Actual Rows"], `${name}: ${text}`).toBeLessThanOrEqual(PAGE + 1);
      expect(scan!["Rows Removed by Filter"] ?? 0, `${name}: ${text}`).toBe(0);
      // NaN, which fails the bound below, if EXPLAIN wrote no buffer counts.
      const blocks = (n: PlanNode) => (n["Shared Hit Blocks"] ?? NaN) + (n["Shared Read Blocks"] ?? NaN);
      figures[name] = `copies ${blocks(scan!)} blocks, whole page ${blocks(top)}`;
      // The page's copies and a few index pages: far fewer than the newer copies it leaves out.
      expect(blocks(scan!), `${name}: ${text}`).toBeLessThan(Math.min(4 * PAGE, newer / 20));
    }
  });

  it("paging with before_id through times out of id order returns exactly what a scan of the mailbox finds", async () => {
    const { rows: all } = await getPool().query<{ id: number; t: Date; trashed: boolean }>(
      `SELECT message_id AS id, "timestamp" AS t, trashed_at IS NOT NULL AS trashed FROM message_copies WHERE user_id = $1`,
      [SHUFFLED_READER],
    );
    expect(all).toHaveLength(SHUFFLED);
    const at = (seconds: number) => new Date(Date.UTC(2020, 0, 1) + seconds * 1000);
    // folder=trash too: the index is not partial, so it serves every folder.
    const cases: ListFilters[] = [
      { until: at(1_000) },
      { since: at(2_000) },
      { since: at(700), until: at(1_900) },
      { until: at(1_500), folder: "trash" },
      { since: at(0), until: at(SHUFFLED) },
      { until: at(-1) },
    ];
    for (const filters of cases) {
      const expected = all
        .filter((c) => (filters.folder === "trash" ? c.trashed : !c.trashed))
        .filter((c) => (filters.since === undefined || c.t >= filters.since) && (filters.until === undefined || c.t <= filters.until))
        .map((c) => c.id)
        .sort((a, b) => b - a);
      // Pages of 97, each also cut at 40 KiB of text (about 65 of these messages), as the endpoint cuts them.
      const seen: number[] = [];
      let pages = 0;
      // Bounded: a cursor that fails to move on would repeat its page forever.
      for (let before: number | undefined; pages < 200; pages++) {
        const page = await listMessages(SHUFFLED_READER, filters, { limit: 97, before_id: before, maxBytes: 40 << 10 });
        seen.push(...page.map((m) => m.id));
        if (page.length === 0) break;
        before = page.at(-1)!.id;
      }
      expect(seen, JSON.stringify(filters)).toEqual(expected);
      if (expected.length > 500) expect(pages, JSON.stringify(filters)).toBeGreaterThan(5);
    }
  });
});
