/**
 * Upload slots and downloads asked for at once share statements (shared/data/batched-rides.ts):
 * each request is still authenticated, limited and answered as its own, and each statement keeps
 * one generic plan that reads users and sessions by their keys.
 */
import jwt from "jsonwebtoken";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { attachmentsCreate } from "../../functions/attachments-create";
import { attachmentsDownload } from "../../functions/attachments-download";
import { messagesSend } from "../../functions/messages-send";
import { attachmentForViewer, newUploadSlot } from "../../shared/data/attachments";
import { getPool } from "../../shared/data/db";
import { findUserInSessionWith, type Ride } from "../../shared/data/users";
import { useKeySignedStorage } from "../support/attachments";
import { useTestDatabase, type TestDatabase } from "../support/database";
import { call } from "../support/http";
import { withStatements } from "../support/statements";
import { newUser, type TestUser } from "../support/users";

const PENDING_MAX = 3;

let db: TestDatabase;
let restoreStorage: () => void;
let users: TestUser[];

beforeAll(async () => {
  restoreStorage = useKeySignedStorage();
  process.env.ATTACHMENT_PENDING_MAX = String(PENDING_MAX);
  db = await useTestDatabase();
  users = [];
  for (let i = 0; i < 12; i++) users.push(await newUser("batched"));
});
afterAll(async () => {
  delete process.env.ATTACHMENT_PENDING_MAX;
  restoreStorage();
  await db.close();
});

const slotFor = (user: TestUser, filename = "report.pdf") =>
  call(attachmentsCreate, { method: "POST", token: user.token, json: { filename, content_type: "application/pdf", size: 1_000 } });

const sessionOf = (user: TestUser) => (jwt.decode(user.token) as { sid: string }).sid;

async function pendingOf(user: TestUser): Promise<{ rows: number; counted: number }> {
  const { rows } = await getPool().query<{ rows: number; counted: number | null }>(
    `SELECT (SELECT count(*)::int FROM attachments WHERE owner_id = $1 AND message_id IS NULL) AS rows,
            (SELECT count FROM attachment_pending_counts WHERE owner_id = $1) AS counted`,
    [user.id],
  );
  return { rows: rows[0].rows, counted: rows[0].counted ?? 0 };
}

describe("upload slots asked for at once", () => {
  it("are written by fewer statements than requests, each slot its own user's, a full user refused and an ended session's token too", async () => {
    const [full, ended, ...others] = users;
    for (let i = 0; i < PENDING_MAX; i++) expect((await slotFor(full)).status).toBe(201);
    await getPool().query("DELETE FROM sessions WHERE user_id = $1", [ended.id]);
    const before = await Promise.all(users.map(pendingOf));

    const { result, statements } = await withStatements(() => Promise.all(users.map((user) => slotFor(user, `of-${user.username}.pdf`))));

    expect(result.map((res) => res.status)).toEqual([429, 401, ...others.map(() => 201)]);
    const written = statements.filter((text) => text.includes("INSERT INTO attachments"));
    expect(written.length).toBeLessThan(users.length);
    // Each slot is the asker's: its row is theirs, under the filename it asked for.
    for (const [i, user] of others.entries()) {
      const { rows } = await getPool().query("SELECT owner_id, filename FROM attachments WHERE id = $1", [
        (result[i + 2].body as { id: string }).id,
      ]);
      expect(rows[0]).toEqual({ owner_id: user.id, filename: `of-${user.username}.pdf` });
    }
    const after = await Promise.all(users.map(pendingOf));
    expect(after[0]).toEqual(before[0]);
    expect(after[1]).toEqual({ rows: 0, counted: 0 });
    for (let i = 2; i < users.length; i++) expect(after[i]).toEqual({ rows: before[i].rows + 1, counted: before[i].counted + 1 });
  });

  it("keep each request's text as it was sent, whatever an array's literal would make of it", async () => {
    const names = ["NULL", 'say "hi", {all}.txt', "ünï ço ∂e.pdf", "a,b}{c.txt"];
    const answers = await Promise.all(names.map((filename, i) => slotFor(users[2 + i], filename)));
    const { rows } = await getPool().query<{ filename: string }>(
      "SELECT filename FROM attachments WHERE id = ANY($1::uuid[]) ORDER BY array_position($1::uuid[], id)",
      [answers.map((res) => (res.body as { id: string }).id)],
    );
    expect(rows.map((row) => row.filename)).toEqual(names);
  });

  it("never give one user more than the limit, however many of theirs arrive together", async () => {
    const [, , user] = users;
    await getPool().query("DELETE FROM attachments WHERE owner_id = $1 AND message_id IS NULL", [user.id]);
    const answers = await Promise.all(Array.from({ length: 8 }, () => slotFor(user)));
    expect(answers.filter((res) => res.status === 201)).toHaveLength(PENDING_MAX);
    expect(answers.filter((res) => res.status === 429)).toHaveLength(8 - PENDING_MAX);
    expect(await pendingOf(user)).toEqual({ rows: PENDING_MAX, counted: PENDING_MAX });
  });
});

describe("downloads asked for at once", () => {
  it("are read by fewer statements than requests, each answered for its own viewer", async () => {
    const [, , sender, recipient, stranger] = users;
    const sent = await call(messagesSend, { method: "POST", token: sender.token, json: { to: [recipient.id], title: "file", body: "b" } });
    const messageId = (sent.body as { id: number }).id;
    const { rows } = await getPool().query<{ id: string }>(
      `INSERT INTO attachments (id, owner_id, blob_name, filename, content_type, size, message_id, position)
       VALUES (gen_random_uuid(), $1, 'batched-blob', 'a.txt', 'text/plain', 1, $2, 1) RETURNING id`,
      [sender.id, messageId],
    );
    const params = { message_id: String(messageId), attachment_id: rows[0].id };
    const viewers = [sender, recipient, stranger, recipient, stranger, sender, recipient, stranger];

    const { result, statements } = await withStatements(() =>
      Promise.all(viewers.map((viewer) => call(attachmentsDownload, { token: viewer.token, params }))),
    );

    expect(result.map((res) => res.status)).toEqual(viewers.map((viewer) => (viewer === stranger ? 404 : 302)));
    expect(statements.filter((text) => text.includes("message_copies")).length).toBeLessThan(viewers.length);
  });
});

describe("a batch's statement", () => {
  beforeAll(async () => {
    const pool = getPool();
    await pool.query("INSERT INTO users (username, hashed_password) SELECT 'batch_plan_' || i, 'x' FROM generate_series(1, 5000) i");
    await pool.query("INSERT INTO sessions (user_id) SELECT id FROM users, generate_series(1, 4)");
    await pool.query("ANALYZE users");
    await pool.query("ANALYZE sessions");
  });

  const limits = { pendingMax: 100, pendingMaxBytes: 1e12, unattachedHours: 24 };
  const rides: {
    statement: string;
    ride: () => Ride<unknown>;
    read: (found: unknown) => void;
    values: (user: TestUser) => string;
    reads: RegExp[];
  }[] = [
    {
      statement: "batched-ride+upload-slot",
      ride: () => newUploadSlot({ filename: "p.txt", contentType: "text/plain", size: 1 }, limits),
      read: (found: unknown) => expect(found).toMatchObject({ content_type: "text/plain" }),
      values: (user: TestUser) =>
        `100, 1000000000, ARRAY[${user.id}], ARRAY['${sessionOf(user)}']::uuid[], ARRAY['${user.username}'],
         ARRAY[gen_random_uuid()], ARRAY['plan-blob'], ARRAY['p.txt'], ARRAY['text/plain'], ARRAY[1]::bigint[]`,
      reads: [],
    },
    {
      statement: "batched-ride+attachment-for-viewer",
      ride: () => attachmentForViewer(1, "00000000-0000-4000-8000-000000000000"),
      read: (found: unknown) => expect(found).toBeNull(),
      values: (user: TestUser) =>
        `ARRAY[${user.id}], ARRAY['${sessionOf(user)}']::uuid[], ARRAY['${user.username}'], ARRAY[1], ARRAY[gen_random_uuid()]`,
      reads: [/Index Scan using attachments_pkey on attachments/],
    },
  ];

  it.each(rides)(
    "$statement keeps one generic plan, reading users and sessions by their keys",
    async ({ statement, ride, read, values, reads }) => {
      const [user] = users;
      const client = await getPool().connect();
      try {
        for (let i = 0; i < 10; i++) {
          const found = await findUserInSessionWith(user.id, sessionOf(user), user.username, ride(), client);
          expect(found?.id).toBe(user.id);
          read(found?.ridden);
        }
        const { rows } = await client.query<{ generic_plans: string; custom_plans: string }>(
          "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name = $1",
          [statement],
        );
        // PostgreSQL makes five custom plans before it compares them with the generic plan.
        expect(Number(rows[0].custom_plans)).toBeLessThanOrEqual(5);
        expect(Number(rows[0].generic_plans)).toBeGreaterThanOrEqual(5);

        const plan = await client.query<{ "QUERY PLAN": string }>(`EXPLAIN EXECUTE "${statement}"(${values(user)})`);
        const text = plan.rows.map((r) => r["QUERY PLAN"]).join("\n");
        expect(text).toMatch(/Index Scan using sessions_pkey on sessions/);
        expect(text).toMatch(/Index Scan using (users_pkey|users_username_\w+) on users/);
        for (const scan of reads) expect(text).toMatch(scan);
        expect(text).not.toMatch(/Seq Scan on (users|sessions|attachments)/);
      } finally {
        client.release();
      }
    },
  );
});
