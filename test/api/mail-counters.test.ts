/**
 * The mailbox counters (GET /messages/counts) stay exact under concurrency: 2,000 mixed changes
 * (sends to several recipients, reads, unreads, moves, stars, bulk changes, deletes, mark all
 * read) from 20 concurrent clients over a few shared mailboxes, then every counter is compared
 * with a full recount of the copies.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { changeCopies, deleteCopies } from "../../shared/data/copy-changes";
import { getPool } from "../../shared/data/db";
import { deleteMessage, markAllRead, markRead, markUnread } from "../../shared/data/mailbox";
import { COUNT_COPIES, COUNTED_COPIES_MIGRATION } from "../../shared/data/mailbox-counters";
import { sendMessage } from "../../shared/data/messages";
import { forgetSchemaReached } from "../../shared/data/migrate";
import { MIGRATIONS } from "../../shared/data/migrations";
import { miscounted } from "../support/counters";
import { useTestDatabase, type TestDatabase } from "../support/database";
import { newUser } from "../support/users";

let db: TestDatabase;
beforeAll(async () => {
  db = await useTestDatabase();
});
afterAll(async () => {
  await db.close();
});

const CLIENTS = 20;
const CHANGES_EACH = 100;
const FOLDERS = ["inbox", "archive", "trash"] as const;

describe("the mailbox counters", () => {
  it(`equal a full recount after ${CLIENTS * CHANGES_EACH} concurrent mixed changes`, async () => {
    const users = await Promise.all(Array.from({ length: 6 }, () => newUser("count")));
    const ids = users.map((u) => u.id);
    const sent: number[] = [];
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % n;
    };
    const pick = <T>(xs: readonly T[]) => xs[rand(xs.length)];
    const someMessages = () => Array.from({ length: 1 + rand(5) }, () => pick(sent.length ? sent : [1]));
    const change = async () => {
      const user = pick(ids);
      switch (rand(9)) {
        case 0:
        case 1: {
          const to = [pick(ids), pick(ids)];
          const out = await sendMessage(user, { to, cc: [pick(ids)], bcc: [pick(ids)], title: "t", body: "b" });
          if (out.kind === "sent") sent.push(out.message.id);
          return;
        }
        case 2:
          return markRead(pick(sent.length ? sent : [1]), user);
        case 3:
          return markUnread(pick(sent.length ? sent : [1]), user);
        case 4:
          return changeCopies(user, [...new Set(someMessages())], { folder: pick(FOLDERS) });
        case 5:
          return changeCopies(user, [...new Set(someMessages())], { is_starred: rand(2) === 0, is_read: rand(2) === 0 });
        case 6:
          return deleteCopies(user, [...new Set(someMessages())]);
        case 7:
          return deleteMessage(pick(sent.length ? sent : [1]), user);
        default:
          return markAllRead(user);
      }
    };
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        for (let i = 0; i < CHANGES_EACH; i++) await change();
      }),
    );
    expect(await miscounted(ids)).toEqual([]);
    // The run did exercise every folder and flag it claims to.
    const { rows: seen } = await getPool().query(
      "SELECT count(DISTINCT folder)::int AS folders, bool_or(is_starred) AS starred FROM message_copies WHERE user_id = ANY($1)",
      [ids],
    );
    expect(seen[0]).toEqual({ folders: 4, starred: true });
  }, 300_000);

  it("count a send's copies once, and copies inserted after it in its transaction as well", async () => {
    const [a, b] = await Promise.all([newUser("count"), newUser("count")]);
    // The send counts its own copies and tells the trigger so for the rest of the transaction
    // (migration 25); a message of the old shape written then gets its copies from the old code's
    // trigger, which must still count them.
    const out = await sendMessage(
      a.id,
      { to: [b.id], cc: [a.id], title: "t", body: "b" },
      {
        onStored: async (tx) => {
          await tx.query("INSERT INTO messages (sender_id, recipient_id, title, body) VALUES ($1, $2, 'old', 'shape')", [b.id, a.id]);
        },
      },
    );
    expect(out.kind).toBe("sent");
    const { rows } = await getPool().query<{ n: number }>("SELECT count(*)::int AS n FROM message_copies WHERE user_id = ANY($1)", [
      [a.id, b.id],
    ]);
    expect(rows[0].n).toBe(5);
    expect(await miscounted([a.id, b.id])).toEqual([]);
  });

  it("stay exact when this code serves before the migration that lets a send count its own copies", async () => {
    const users = await Promise.all(Array.from({ length: 4 }, () => newUser("count")));
    const ids = users.map((u) => u.id);
    const pool = getPool();
    // The schema as it was before that migration: its trigger counts every copy inserted.
    await pool.query(`CREATE OR REPLACE FUNCTION mailbox_counters_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN ${COUNT_COPIES("SELECT d.* FROM new_rows n CROSS JOIN LATERAL mailbox_counter_deltas(n, 1) d")}; RETURN NULL; END $$`);
    // The database taken back to before that migration: it and every later one unrecorded.
    const since = MIGRATIONS.filter((m) => m.version >= COUNTED_COPIES_MIGRATION);
    await pool.query("DELETE FROM schema_migrations WHERE version >= $1", [COUNTED_COPIES_MIGRATION]);
    forgetSchemaReached();
    try {
      await Promise.all(
        ids.map((from, i) =>
          sendMessage(from, { to: [ids[(i + 1) % ids.length]], cc: [ids[(i + 2) % ids.length]], title: "t", body: "b" }),
        ),
      );
      expect(await miscounted(ids)).toEqual([]);
    } finally {
      for (const migration of since) {
        if (migration.sql) await pool.query(migration.sql);
        await pool.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [migration.version, migration.name]);
      }
      forgetSchemaReached();
    }
    // Once the migration is recorded, the send counts its own copies, and still exactly.
    await sendMessage(ids[0], { to: [ids[1]], title: "t", body: "b" });
    expect(await miscounted(ids)).toEqual([]);
  });
});
