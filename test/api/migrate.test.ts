import { Pool } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { migrate, settleWithin } from "../../shared/data/migrate";
import { MIGRATIONS } from "../../shared/data/migrations";
import { createTestDatabase, withScratchDatabase, type TestDatabase } from "../support/database";

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.close();
});

describe("migrations", () => {
  it("apply once when several migrators start at the same time", async () => {
    const pools = [1, 2, 3].map(() => new Pool({ connectionString: db.url, max: 2 }));
    try {
      const results = await Promise.all(pools.map((p) => migrate(p)));
      const applied = results.flatMap((r) => r.applied);
      expect(applied.sort()).toEqual(MIGRATIONS.map((m) => m.version).sort());
      expect(results.every((r) => r.current === MIGRATIONS.at(-1)!.version)).toBe(true);
      const { rows } = await pools[0].query("SELECT version FROM schema_migrations ORDER BY version");
      expect(rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
      const again = await migrate(pools[0]);
      expect(again.applied).toEqual([]);
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });

  it("roll back a failing migration whole and report it", async () => {
    const pool = new Pool({ connectionString: db.url, max: 1 });
    try {
      const broken = [
        ...MIGRATIONS,
        { version: 9_999, name: "broken", sql: "CREATE TABLE half_done (x int); SELECT no_such_column FROM users;" },
      ];
      await expect(migrate(pool, broken)).rejects.toThrow(/migration 9999 \(broken\) failed/);
      const { rows } = await pool.query(
        "SELECT to_regclass('half_done') AS t, (SELECT count(*)::int FROM schema_migrations WHERE version = 9999) AS n",
      );
      expect(rows[0]).toEqual({ t: null, n: 0 });
    } finally {
      await pool.end();
    }
  });

  it("apply a version that fills a gap below the current one (versions merged out of order)", async () => {
    await withScratchDatabase(1, async (pool) => {
      await migrate(pool);
      // Version 0 stands for any number below the current one that a later merge brings in.
      const late = { version: 0, name: "merged later", sql: "CREATE TABLE merged_later (x int)" };
      expect(await migrate(pool, [...MIGRATIONS, late])).toEqual({ applied: [0], current: MIGRATIONS.at(-1)!.version });
      expect((await pool.query("SELECT to_regclass('merged_later') IS NOT NULL AS made")).rows[0].made).toBe(true);
    });
  });

  it("finish an interrupted concurrent index build: an invalid leftover is rebuilt, then the version recorded", async () => {
    await withScratchDatabase(1, async (pool) => {
      await migrate(pool);
      const online = MIGRATIONS.find((m) => m.concurrentIndexes?.length)!;
      const index = online.concurrentIndexes![0].name;
      // What a build killed half-way leaves: an invalid index and no version row.
      await pool.query("UPDATE pg_index SET indisvalid = false WHERE indexrelid = to_regclass($1)", [index]);
      await pool.query("DELETE FROM schema_migrations WHERE version = $1", [online.version]);
      expect((await migrate(pool)).applied).toEqual([online.version]);
      const { rows } = await pool.query("SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass($1)", [index]);
      expect(rows).toEqual([{ indisvalid: true }]);
    });
  });

  it("at startup, wait for a long migration only so long, then let it finish in the background", async () => {
    await withScratchDatabase(2, async (pool) => {
      const lines: string[] = [];
      // As shared/http/startup.ts does: the attempt never throws; its outcome is logged.
      const attempt = (migrations: typeof MIGRATIONS) =>
        migrate(pool, migrations).then(
          ({ applied }) => void lines.push(`applied migrations ${applied.join(", ")}`),
          (error: Error) => void lines.push(`error: database migration failed: ${error.message}`),
        );
      const slow = [...MIGRATIONS, { version: 9_000, name: "slow", sql: "SELECT pg_sleep(1.5)" }];
      expect(await settleWithin(attempt(slow), 300)).toBe("continuing");
      expect(lines.some((l) => l.includes("9000"))).toBe(false);
      await expect.poll(() => lines.find((l) => l.includes("9000")), { timeout: 30_000 }).toMatch(/applied migrations .*9000/);
      expect(await settleWithin(attempt(slow), 5_000)).toBe("done");
      const broken = [...slow, { version: 9_001, name: "broken", sql: "SELECT no_such_column FROM users" }];
      expect(await settleWithin(attempt(broken), 5_000)).toBe("done");
      expect(lines.at(-1)).toMatch(/^error: database migration failed: migration 9001/);
    });
  });

  it("adopt a database created by the original service", async () => {
    await withScratchDatabase(1, async (pool) => {
      // The original's SQLAlchemy tables: naive timestamps, no read_at, no indexes of ours.
      await pool.query(`
        CREATE TABLE users (id SERIAL PRIMARY KEY, username VARCHAR UNIQUE, hashed_password VARCHAR);
        CREATE TABLE messages (id SERIAL PRIMARY KEY, sender_id INTEGER, recipient_id INTEGER,
          title VARCHAR, body TEXT, "timestamp" TIMESTAMP DEFAULT now(), is_read BOOLEAN DEFAULT false);
        INSERT INTO users (username, hashed_password) VALUES ('old', '$2b$12$abcdefghijklmnopqrstuv');
        INSERT INTO messages (sender_id, recipient_id, title, body, "timestamp") VALUES (1, 1, 't', 'b', '2024-04-27 12:34:56.789');`);
      await migrate(pool);
      const { rows } = await pool.query(`SELECT "timestamp", read_at FROM messages`);
      expect(rows[0].timestamp.toISOString()).toBe("2024-04-27T12:34:56.789Z");
      expect(rows[0].read_at).toBeNull();
      // Even without the original's foreign keys, a message to nobody is now refused.
      await expect(
        pool.query("INSERT INTO messages (sender_id, recipient_id, title, body) VALUES (1, 999, 't', 'b')"),
      ).rejects.toMatchObject({
        code: "23503",
        constraint: "messages_recipient_id_fkey",
      });
    });
  });

  it("9: keys the users that exist by their confusable skeletons, and keeps only the message id of idempotency records", async () => {
    await withScratchDatabase(1, async (pool) => {
      await migrate(
        pool,
        MIGRATIONS.filter((m) => m.version < 9),
      );
      // Names stored before the rules: a fullwidth one, and two that look alike.
      await pool.query(`INSERT INTO users (username, hashed_password) VALUES ('ｅｖｅ', 'x'), ('mallory', 'x'), ('mаllory', 'x')`);
      await pool.query(`INSERT INTO messages (sender_id, recipient_id, title, body) VALUES (1, 2, 'kept title', 'kept body')`);
      await pool.query(
        `INSERT INTO idempotency_keys (sender_id, key, fingerprint, response) VALUES (1, 'k', 'f', json_build_object('id', 1, 'title', 'kept title', 'body', 'kept body'))`,
      );
      expect(
        (
          await migrate(
            pool,
            MIGRATIONS.filter((m) => m.version <= 9),
          )
        ).applied,
      ).toEqual([9]);
      const users = await pool.query(
        "SELECT username, username_skeleton AS cased, username_skeleton_folded AS folded FROM users ORDER BY id",
      );
      expect(users.rows).toEqual([
        { username: "ｅｖｅ", cased: "eve", folded: "eve" },
        { username: "mallory", cased: "rnallory", folded: "rnallory" },
        { username: "mаllory", cased: "rnallory", folded: "rnallory" },
      ]);
      const keys = await pool.query("SELECT * FROM idempotency_keys");
      expect(keys.rows).toEqual([{ sender_id: 1, key: "k", fingerprint: "f", message_id: 1, created_at: expect.any(Date) }]);
    });
  });

  it("21: counts each owner's pending uploads as they were, then keeps the count as they go", async () => {
    await withScratchDatabase(1, async (pool) => {
      await migrate(
        pool,
        MIGRATIONS.filter((m) => m.version < 21),
      );
      await pool.query(`INSERT INTO users (username, hashed_password) VALUES ('ann', 'x'), ('ben', 'x'), ('cat', 'x')`);
      const pending = (owner: number | null, size: number) =>
        pool.query(
          "INSERT INTO attachments (id, owner_id, blob_name, filename, content_type, size) VALUES (gen_random_uuid(), $1, gen_random_uuid()::text, 'f', 'text/plain', $2)",
          [owner, size],
        );
      for (const [owner, size] of [
        [1, 10],
        [1, 5],
        [2, 7],
        [null, 100],
      ] as const)
        await pending(owner, size);
      expect(
        (
          await migrate(
            pool,
            MIGRATIONS.filter((m) => m.version <= 21),
          )
        ).applied,
      ).toEqual([21]);
      const counts = () => pool.query("SELECT owner_id, count, bytes::int FROM attachment_pending_counts ORDER BY owner_id");
      expect((await counts()).rows).toEqual([
        { owner_id: 1, count: 2, bytes: 15 },
        { owner_id: 2, count: 1, bytes: 7 },
      ]);
      await pool.query("DELETE FROM attachments WHERE owner_id = 1 AND size = 10");
      await pool.query("DELETE FROM users WHERE id = 2");
      expect((await counts()).rows).toEqual([{ owner_id: 1, count: 1, bytes: 5 }]);
    });
  });
});
