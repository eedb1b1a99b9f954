/**
 * The 900-message attack, as a scale test: 900 messages of 100 000 × U+0001 (about 540 MB of JSON
 * together) once pushed the victim's default inbox past V8's string limit, so every request
 * answered 500 after allocating half a gigabyte. Now the default inbox answers one bounded page,
 * and its `Link` chain reaches all of them. `npm test` runs it with a few dozen such messages (each
 * page still holds one, so the chain is as long as the mailbox); `npm run test:full-scale` with
 * all 900 (test/support/scale.ts). The messages are written straight into the table (the send path
 * is not what is tested); the figures are printed.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { messagesInbox } from "../../functions/messages-inbox";
import { resetConfig } from "../../shared/config/config";
import { getPool } from "../../shared/data/db";
import { useTestDatabase, type TestDatabase } from "../support/database";
import { call } from "../support/http";
import { nextQuery, walkPages } from "../support/paging";
import { scaleSize } from "../support/scale";
import { newUser, type TestUser } from "../support/users";

const MIB = 1024 * 1024;
const MESSAGES = scaleSize("LIST_BYTES_MESSAGES", 900, 40);
const BATCH = 10;

let db: TestDatabase;
let victim: TestUser;
let ids: number[];

beforeAll(async () => {
  delete process.env.LIST_MAX_BYTES; // the production bound
  process.env.DB_STATEMENT_TIMEOUT_MS = "60000"; // seeding only: a batch is one long statement
  resetConfig();
  db = await useTestDatabase();
  const attacker = await newUser("attacker");
  victim = await newUser("victim");
  // Batches on several connections (fewer than the pool holds): indexing a huge text for search is most of the cost.
  const insert = (from: number) =>
    getPool().query<{ id: number }>(
      `INSERT INTO messages (sender_id, recipient_id, title, body)
       SELECT $1, $2, 'attack ' || g, repeat(chr(1), 100000) FROM generate_series($3::int, $3::int + $4::int - 1) g RETURNING id`,
      [attacker.id, victim.id, from, Math.min(BATCH, MESSAGES - from)],
    );
  const starts = Array.from({ length: Math.ceil(MESSAGES / BATCH) }, (_, i) => i * BATCH);
  const batches = [];
  for (let i = 0; i < starts.length; i += 4) batches.push(...(await Promise.all(starts.slice(i, i + 4).map(insert))));
  ids = batches.flatMap((batch) => batch.rows.map((r) => r.id)).sort((a, b) => b - a);
}, 60_000);
afterAll(async () => {
  await db.close();
});

describe(`a mailbox of ${MESSAGES} messages of 600 KB of JSON each`, () => {
  it("answers the default inbox with one bounded page that links on", async () => {
    const res = await call(messagesInbox, { token: victim.token });
    expect(res.status).toBe(200);
    expect(Buffer.byteLength(res.text)).toBeLessThanOrEqual(MIB);
    expect(nextQuery(res)).toMatchObject({ before_id: String(ids[(res.body as unknown[]).length - 1]) });
  });

  it("pages through all of them by the Link chain, each page within the bound", async () => {
    const started = performance.now();
    const walk = await walkPages<{ id: number }>(messagesInbox, { token: victim.token });
    const ms = performance.now() - started;
    expect(walk.items.map((m) => m.id)).toEqual(ids);
    expect(Math.max(...walk.pageBytes)).toBeLessThanOrEqual(MIB);
    console.info(
      `inbox of ${MESSAGES} huge messages: ${walk.pageBytes.length} pages, largest ${(Math.max(...walk.pageBytes) / MIB).toFixed(2)} MiB, ${(ms / walk.pageBytes.length).toFixed(1)} ms a page`,
    );
  }, 300_000);
});
