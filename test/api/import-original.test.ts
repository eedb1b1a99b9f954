/**
 * Done-test of issue 18: the original's schema as its ORM creates it, filled with every kind of
 * row our rules refuse, imported twice with `npm run import-original`, then used over HTTP: an
 * original password logs in and reads the same inbox and unread count.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import bcrypt from "bcryptjs";
import { Pool } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { startLocalStack, type LocalStack } from "../../local/stack";
import { withClient } from "../../shared/data/db";
import type { OriginalSource } from "../../tools/import/original";
import type { ImportReport } from "../../tools/import/report";
import { importOriginal } from "../../tools/import/run";
import { registerOverHttp } from "../support/api";
import { createTestDatabase, type TestDatabase } from "../support/database";
import { createOriginalDatabase, INBOX_UNREAD, runImportCli } from "../support/original";

let original: TestDatabase;
let target: TestDatabase;
let stack: LocalStack;
let base: string;
let work: string;

const ANA_PASSWORD = "original-pass-1";
const ANA2_PASSWORD = "original-pass-2";

/** Original users: [id, username, password or a raw hash]. */
const USERS: [number, string, { password: string } | { hash: string }][] = [
  [1, "ana", { password: ANA_PASSWORD }],
  [2, "Ana", { password: ANA2_PASSWORD }], // same name as 1 under our case-insensitive rule
  [3, "bob", { password: "bob-password" }], // id and name taken in the target (see beforeAll)
  [4, "  carol  ", { password: "carol-password" }],
  [5, "dave\u0007", { password: "dave-password" }],
  [6, "x".repeat(60), { password: "long-password" }],
  [7, "\u0001\u0002", { password: "ctl-password" }],
  [8, "eve", { hash: "plaintext-from-a-bug" }],
  [9, "ana~2", { password: "tilde-password" }], // collides with the name 2 is renamed to
  [10, "\uff41na", { password: "fullwidth-password" }], // fullwidth a: NFKC makes it "ana"
  [11, "\u0430na", { password: "cyrillic-password" }], // Cyrillic a: confusable with "ana"
  [12, "bob\u200b", { password: "zwsp-password" }], // zero-width space: invisible
];

/** Original messages: [id, sender, recipient, title, body, timestamp (naive UTC), is_read]. */
type Row = [number, number, number, string, string, string | null, boolean | null];
const MESSAGES: Row[] = [
  [1, 2, 1, "Hello ana", "first", "2024-04-27 12:34:56.789", null],
  [2, 3, 1, "", "untitled", "2024-04-27 13:00:00", false],
  [3, 3, 1, "   ", "", "2024-04-27 14:00:00", true],
  [4, 1, 3, "long", "a".repeat(100_050), "2024-04-28 08:00:00", false],
  [5, 1, 2, "id taken in the target", "b", "2024-04-28 09:00:00", false],
  [6, 999, 1, "from nobody", "dangling sender", "2024-04-28 10:00:00", null],
  [7, 1, 998, "to nobody", "dangling recipient", "2024-04-28 11:00:00", false],
  [8, 997, 996, "nobody to nobody", "skipped", "2024-04-28 12:00:00", false],
  [9, 1, 1, "no time", "self", null, false],
  [10, 5, 1, "Não lida", "acentuação", "2024-05-01 00:00:00.5", false],
  [11, 4, 1, "read one", "r", "2024-05-02 00:00:00", true],
];

async function fillOriginal(): Promise<void> {
  await withClient(original.url, async (c) => {
    for (const [id, username, secret] of USERS) {
      const hash = "hash" in secret ? secret.hash : await bcrypt.hash(secret.password, id === 1 ? 12 : 4);
      await c.query('INSERT INTO "Users" (id, username, password_hash) VALUES ($1, $2, $3)', [id, username, hash]);
    }
    // Dangling user ids: the original's foreign keys were not always there (SQL Server exports).
    await c.query("SET session_replication_role = replica");
    for (const row of MESSAGES) {
      await c.query(
        'INSERT INTO "Messages" (id, sender_id, recipient_id, title, body, "timestamp", is_read) VALUES ($1, $2, $3, $4, $5, $6, $7)',
        row,
      );
    }
    await c.query("SET session_replication_role = DEFAULT");
    await c.query(`SELECT setval(pg_get_serial_sequence('"Users"', 'id'), 9), setval(pg_get_serial_sequence('"Messages"', 'id'), 11)`);
  });
}

/** Everything the import can change, in a comparable form. */
const snapshot = () =>
  withClient(target.url, async (c) => ({
    users: (await c.query(`SELECT id, username, hashed_password, ${INBOX_UNREAD} AS unread_count FROM users u ORDER BY id`)).rows,
    messages: (await c.query('SELECT id, sender_id, recipient_id, title, body, "timestamp", is_read, thread_id FROM messages ORDER BY id'))
      .rows,
    sequences: (
      await c.query(
        "SELECT pg_sequence_last_value(pg_get_serial_sequence('users', 'id')::regclass) AS u, pg_sequence_last_value(pg_get_serial_sequence('messages', 'id')::regclass) AS m",
      )
    ).rows,
    recorded: (
      await c.query("SELECT to_regclass('import_original_users') IS NOT NULL AND (SELECT count(*) FROM import_original_users) > 0 AS any")
    ).rows,
  }));

const importCli = (...args: string[]) =>
  runImportCli(target.url, ["--from", original.url, "--report", path.join(work, "report.json"), ...args]);
const readReport = async (file = "report.json") => JSON.parse(await readFile(path.join(work, file), "utf8")) as ImportReport;

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), "import-original-"));
  original = await createOriginalDatabase();
  await fillOriginal();
  target = await createTestDatabase();
  stack = await startLocalStack({ hostPort: 0, databaseUrl: target.url, webPubSubPort: 0 });
  base = stack.url as string;
  // Someone registered on the new service before the switch: holds user id 3, name "Bob" and message id 5.
  await withClient(target.url, async (c) => {
    await c.query("INSERT INTO users (id, username, hashed_password) VALUES (3, 'Bob', $1)", [await bcrypt.hash("new-bob", 4)]);
    await c.query("INSERT INTO messages (id, sender_id, recipient_id, title, body) VALUES (5, 3, 3, 'note', 'to self')");
  });
}, 120_000);
afterAll(async () => {
  await stack?.close();
  await target?.close();
  await original?.close();
  await rm(work, { recursive: true, force: true });
});

async function login(username: string, password: string): Promise<string> {
  const res = await fetch(`${base}/token`, { method: "POST", body: new URLSearchParams({ username, password }) });
  expect(res.status, `login ${username}`).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

const get = async <T>(token: string, route: string): Promise<T> => {
  const res = await fetch(`${base}${route}`, { headers: { authorization: `Bearer ${token}` } });
  expect(res.status, route).toBe(200);
  return (await res.json()) as T;
};

describe("npm run import-original", () => {
  it("with --dry-run reports what it would do and changes nothing", async () => {
    const before = await snapshot();
    const run = await importCli("--dry-run");
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain("DRY RUN");
    expect(await snapshot()).toEqual(before);
    const report = await readReport();
    expect(report.dryRun).toBe(true);
    expect(report.imported).toEqual({ users: 12, placeholders: 2, messages: 10, skippedMessages: 1 });
  }, 120_000);

  it("imports everything once: a second run changes nothing", async () => {
    const first = await importCli();
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/import-original: messages 11\/11 \(100%\)/);
    const after = await snapshot();
    const second = await importCli();
    expect(second.code, second.stderr).toBe(0);
    expect(await snapshot()).toEqual(after);
    const report = await readReport();
    expect(report.thisRun).toEqual({ users: { written: 0, alreadyDone: 12 }, messages: { written: 0, skipped: 0, alreadyDone: 11 } });
    expect(report.imported).toEqual({ users: 12, placeholders: 2, messages: 10, skippedMessages: 1 });
  }, 120_000);

  it("applies and reports a documented rule to every row our rules refuse", async () => {
    const report = await readReport();
    const user = (id: number) => report.users.find((u) => u.original_id === id);
    const message = (id: number) => report.messages.find((m) => m.original_id === id);
    expect(user(1)).toBeUndefined();
    expect(user(2)).toMatchObject({ username: "Ana~2", actions: ["username_renamed"] });
    expect(user(3)).toMatchObject({ username: "bob~2", actions: ["username_renamed", "id_renumbered"] });
    expect(user(3)?.user_id).not.toBe(3);
    expect(user(4)).toMatchObject({ username: "carol", actions: ["username_trimmed"] });
    expect(user(5)).toMatchObject({ username: "dave", actions: ["username_forbidden_characters_removed"] });
    expect(user(6)).toMatchObject({ username: "x".repeat(50), actions: ["username_shortened"] });
    expect(user(7)).toMatchObject({ username: "user-7", actions: ["username_forbidden_characters_removed", "username_empty_replaced"] });
    expect(user(8)).toMatchObject({ username: "eve", actions: ["password_hash_not_bcrypt"] });
    expect(user(9)).toMatchObject({ username: "ana~2~2", actions: ["username_renamed"] });
    expect(user(10)).toMatchObject({ username: "ana~3", actions: ["username_normalized", "username_renamed"] });
    expect(user(11)?.actions).toEqual(["username_renamed"]);
    expect(user(11)?.username).toMatch(/^\u0430na~\d$/);
    expect(user(12)).toMatchObject({ username: "bob~3", actions: ["username_forbidden_characters_removed", "username_renamed"] });
    expect(user(998)).toMatchObject({ username: "missing-user-998", original_username: null, actions: ["placeholder_for_missing_user"] });
    expect(user(999)).toMatchObject({ user_id: 999, username: "missing-user-999" });
    expect(message(2)?.actions).toEqual(["title_blank_replaced"]);
    expect(message(3)?.actions).toEqual(["title_blank_replaced", "body_empty_replaced"]);
    expect(message(4)?.actions).toEqual(["body_shortened"]);
    expect(message(5)?.actions).toEqual(["id_renumbered"]);
    expect(message(5)?.message_id).not.toBe(5);
    expect(message(6)?.actions).toEqual(["sender_missing"]);
    expect(message(7)?.actions).toEqual(["recipient_missing"]);
    expect(message(8)).toEqual({ original_id: 8, message_id: null, actions: ["skipped_both_users_missing"] });
    expect(message(9)?.actions).toEqual(["timestamp_missing"]);
    expect(message(1)).toBeUndefined();
    expect(Object.keys(report.rules).sort()).toEqual(
      [
        "username_renamed",
        "id_renumbered",
        "username_trimmed",
        "username_forbidden_characters_removed",
        "username_normalized",
        "username_shortened",
        "username_empty_replaced",
        "password_hash_not_bcrypt",
        "placeholder_for_missing_user",
        "title_blank_replaced",
        "body_empty_replaced",
        "body_shortened",
        "sender_missing",
        "recipient_missing",
        "skipped_both_users_missing",
        "timestamp_missing",
      ].sort(),
    );
    await withClient(target.url, async (c) => {
      const body = (await c.query<{ body: string }>("SELECT body FROM messages WHERE id = 4")).rows[0].body;
      expect([...body]).toHaveLength(100_000);
      expect(body).toMatch(/\[cut on import: the original message had 100050 characters\]$/);
      // Sequences are past every original id: the app's next rows take none of them.
      const { rows } = await c.query<{ u: string; m: string }>(
        "SELECT pg_sequence_last_value(pg_get_serial_sequence('users', 'id')::regclass) AS u, pg_sequence_last_value(pg_get_serial_sequence('messages', 'id')::regclass) AS m",
      );
      expect(Number(rows[0].u)).toBeGreaterThanOrEqual(999);
      expect(Number(rows[0].m)).toBeGreaterThanOrEqual(11);
    });
  });

  it("lets ana log in with her original password and read the same inbox and unread count", async () => {
    const token = await login("ana", ANA_PASSWORD);
    const inbox = await get<
      { id: number; sender_id: number; title: string; body: string; timestamp: string; is_read: boolean; thread_id: number }[]
    >(token, "/messages/inbox/");
    const expected = await withClient(original.url, async (c) => {
      const { rows } = await c.query<{ id: number; sender_id: number; title: string; is_read: boolean | null; ts: string | null }>(
        `SELECT id, sender_id, title, is_read, to_char("timestamp", 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS ts FROM "Messages" WHERE recipient_id = 1 ORDER BY id DESC`,
      );
      return rows;
    });
    expect(inbox.map((m) => m.id)).toEqual(expected.map((m) => m.id));
    const ours = await withClient(target.url, async (c) => {
      const { rows } = await c.query<{ o: number; u: number }>("SELECT original_id AS o, user_id AS u FROM import_original_users");
      return new Map(rows.map((r) => [r.o, r.u]));
    });
    expect(inbox.map((m) => m.sender_id)).toEqual(expected.map((m) => ours.get(m.sender_id)));
    expect(inbox.map((m) => m.is_read)).toEqual(expected.map((m) => m.is_read === true));
    expect(inbox.map((m) => m.thread_id)).toEqual(expected.map((m) => m.id));
    for (const [i, m] of expected.entries()) {
      expect(inbox[i].title).toBe(m.title.trim() ? m.title : "(no title)");
      if (m.ts) expect(inbox[i].timestamp).toBe(m.ts);
    }
    const unread = expected.filter((m) => m.is_read !== true).length;
    expect(await get(token, "/messages/unread_count/")).toEqual({ unread_count: unread });
    // Search finds imported text (its index is on an expression of the row).
    const found = await get<{ id: number }[]>(token, "/messages/inbox/?q=nao");
    expect(found.map((m) => m.id)).toEqual([10]);
  });

  it("lets a renamed account log in with its original password under its new name", async () => {
    const token = await login("Ana~2", ANA2_PASSWORD);
    const outbox = await get<{ id: number }[]>(token, "/messages/outbox/");
    expect(outbox.map((m) => m.id)).toEqual([1]);
    // Imported names are keyed like registered ones: a look-alike cannot be registered next to one.
    const lookalike = await fetch(`${base}/users/`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "d\u0430ve", password: "Zq8!vR2#mLp5-kT" }),
    });
    expect(lookalike.status).toBe(400);
    const bob = await fetch(`${base}/token`, {
      method: "POST",
      body: new URLSearchParams({ username: "eve", password: "plaintext-from-a-bug" }),
    });
    expect(bob.status).toBe(401);
  });

  it("with --dry-run, paused half-way, holds no registration back", async () => {
    let reached!: () => void;
    let release!: () => void;
    const atPause = new Promise<void>((resolve) => (reached = resolve));
    const paused = new Promise<void>((resolve) => (release = resolve));
    const source: OriginalSource = {
      description: "a source that stops between users and messages",
      totals: async () => ({ users: 1, messages: 0, maxUserId: 5000, maxMessageId: 0 }),
      async *users() {
        yield [{ id: 5000, username: "dry_run_user", password_hash: "x" }];
      },
      async *messages() {
        reached();
        await paused;
        yield [];
      },
      close: async () => {},
    };
    const pool = new Pool({ connectionString: target.url, max: 1 });
    try {
      const run = importOriginal(pool, source, { dryRun: true });
      await atPause;
      const registered = await Promise.race([
        registerOverHttp(base, "registered_during_dry_run"),
        new Promise<null>((resolve) => setTimeout(() => resolve(null), 5_000)),
      ]);
      release();
      await run;
      expect(registered?.username).toBe("registered_during_dry_run");
    } finally {
      release();
      await pool.end();
    }
  });

  it("refuses to run beside another import into the same database", async () => {
    let reached!: () => void;
    let release!: () => void;
    const atPause = new Promise<void>((resolve) => (reached = resolve));
    const paused = new Promise<void>((resolve) => (release = resolve));
    const source: OriginalSource = {
      description: "a source that stops before its first user",
      totals: async () => ({ users: 0, messages: 0, maxUserId: 0, maxMessageId: 0 }),
      async *users() {
        reached();
        await paused;
        yield [];
      },
      async *messages() {},
      close: async () => {},
    };
    const pool = new Pool({ connectionString: target.url, max: 1 });
    try {
      const running = importOriginal(pool, source);
      await atPause;
      const second = await importCli();
      expect(second.code).toBe(1);
      expect(second.stderr).toContain("another import into this database is running");
      release();
      await running;
    } finally {
      release();
      await pool.end();
    }
  }, 60_000);

  it("keeps every unread counter equal to the unread messages", async () => {
    await withClient(target.url, async (c) => {
      const { rows } = await c.query(
        `SELECT u.id, ${INBOX_UNREAD} AS unread_count, coalesce(n.n, 0) AS actual FROM users u
           LEFT JOIN (SELECT recipient_id, count(*)::int AS n FROM messages WHERE NOT is_read AND recipient_deleted_at IS NULL GROUP BY 1) n ON n.recipient_id = u.id
          WHERE ${INBOX_UNREAD} <> coalesce(n.n, 0)`,
      );
      expect(rows).toEqual([]);
    });
  });
});
