/**
 * A session's liveness check costs no round trip of its own: an authenticated read makes exactly
 * the database round trips it made before sessions (a token without a session id, as issued then),
 * the session riding on the user lookup each request already makes.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";

import { attachmentsCreate } from "../../functions/attachments-create";
import { attachmentsDownload } from "../../functions/attachments-download";
import { messagesInbox } from "../../functions/messages-inbox";
import { messagesOutbox } from "../../functions/messages-outbox";
import { messagesSend } from "../../functions/messages-send";
import { messagesUnreadCount } from "../../functions/messages-unread-count";
import { usersMe } from "../../functions/users-me";
import { issueAccessToken } from "../../shared/auth/tokens";
import { getPool } from "../../shared/data/db";
import { inboxQuery, inboxRide, listInbox } from "../../shared/data/messages";
import { SESSION_USER_SQL } from "../../shared/data/users";
import type { Handler } from "../../shared/http/http";
import { useKeySignedStorage } from "../support/attachments";
import { useTestDatabase, type TestDatabase } from "../support/database";
import { call } from "../support/http";
import { withStatements } from "../support/statements";
import { newUser, type TestUser } from "../support/users";

let db: TestDatabase;
let reader: TestUser;
let writer: TestUser;
let restoreStorage: () => void;

beforeAll(async () => {
  restoreStorage = useKeySignedStorage();
  db = await useTestDatabase();
  [reader, writer] = [await newUser("trips_reader"), await newUser("trips_writer")];
  for (let i = 0; i < 3; i++) {
    const sent = await call(messagesSend, {
      method: "POST",
      token: writer.token,
      json: { recipient_id: reader.id, title: `m${i}`, body: "b" },
    });
    expect(sent.status).toBe(200);
  }
});
afterAll(async () => {
  restoreStorage();
  await db.close();
});
afterEach(() => {
  vi.restoreAllMocks();
});

/** The statements one call sends to PostgreSQL (it must answer `status`). */
async function statementsOf(handler: Handler, options: Parameters<typeof call>[1], status = 200): Promise<string[]> {
  const { result, statements } = await withStatements(() => call(handler, options));
  expect(result.status, result.text).toBe(status);
  return statements;
}

/** PostgreSQL's plan for a statement with these values, one line a node. */
async function planOf(text: string, values: unknown[]): Promise<string> {
  const { rows } = await getPool().query<{ "QUERY PLAN": string }>(`EXPLAIN ${text}`, values);
  return rows.map((r) => r["QUERY PLAN"]).join("\n");
}

const reads: { name: string; handler: Handler; query?: Record<string, string>; user: () => TestUser }[] = [
  { name: "inbox ?limit=50", handler: messagesInbox, query: { limit: "50" }, user: () => reader },
  { name: "inbox default page", handler: messagesInbox, user: () => reader },
  { name: "outbox ?limit=50", handler: messagesOutbox, query: { limit: "50" }, user: () => writer },
  { name: "unread count", handler: messagesUnreadCount, user: () => reader },
];

describe("authenticated reads: the session check rides on the user lookup", () => {
  it.each(reads)("$name makes the round trips of a token without a session, one of them reading user and session", async (read) => {
    const user = read.user();
    const sessionless = issueAccessToken(user);
    // Warm up: the first call of a file loads settings and opens a connection.
    await statementsOf(read.handler, { token: user.token, query: read.query });

    const withSession = await statementsOf(read.handler, { token: user.token, query: read.query });
    const withoutSession = await statementsOf(read.handler, { token: sessionless, query: read.query });

    expect(withSession.length).toBe(withoutSession.length);
    const touchingSessions = withSession.filter((sql) => /\bsessions\b/i.test(sql));
    expect(touchingSessions).toHaveLength(1);
    expect(touchingSessions[0]).toMatch(/\bFROM\s+users\b/i);
    expect(withoutSession.filter((sql) => /\bsessions\b/i.test(sql))).toHaveLength(0);
  });
});

describe("the lookup's plan", () => {
  it("reads one row by each primary key, however many users and sessions there are", async () => {
    const pool = getPool();
    await pool.query("INSERT INTO users (username, hashed_password) SELECT 'plan_' || i, 'x' FROM generate_series(1, 5000) i");
    await pool.query("INSERT INTO sessions (user_id) SELECT id FROM users, generate_series(1, 4)");
    await pool.query("ANALYZE users");
    await pool.query("ANALYZE sessions");
    const { rows } = await pool.query<{ id: string }>("SELECT id FROM sessions WHERE user_id = $1 LIMIT 1", [reader.id]);
    const plan = await planOf(SESSION_USER_SQL, [reader.id, rows[0].id]);
    expect(plan).toMatch(/Index Scan using sessions_pkey on sessions/);
    expect(plan).toMatch(/Index Scan using users_pkey on users/);
    expect(plan).not.toMatch(/Seq Scan|Sort/);

    // With a ride: a page's plan below; the download's and the upload slot's in test/api/batched-rides.test.ts.
  });
});

describe("a send to one recipient", () => {
  it("is one round trip: the statement that finds the user and session spends the budgets, stores, counts and logs it", async () => {
    const json = { to: [reader.id], title: "trips", body: "b" };
    await statementsOf(messagesSend, { method: "POST", token: writer.token, json });
    const statements = await statementsOf(messagesSend, { method: "POST", token: writer.token, json });
    // No BEGIN or COMMIT: the sender's and recipient's budgets, copies, counters and event log are that one statement.
    expect(statements).toHaveLength(1);
    expect(statements[0]).toMatch(
      /\bsessions\b[\s\S]*rate_limits[\s\S]*INSERT INTO messages[\s\S]*INSERT INTO message_copies[\s\S]*INSERT INTO user_events/,
    );
  });

  it("writes nothing for a token whose session has ended: a 401 from the one statement", async () => {
    const gone = await newUser("trips_gone");
    await getPool().query("DELETE FROM sessions WHERE user_id = $1", [gone.id]);
    const budgets = async () =>
      (
        await getPool().query("SELECT key, points FROM rate_limits WHERE key = ANY($1) ORDER BY key", [
          [`send_burst:${gone.id}`, `send_hour:${gone.id}`, `receive_hour:${reader.id}`],
        ])
      ).rows;
    const before = await budgets();
    const json = { to: [reader.id], title: "from an ended session", body: "b" };
    const statements = await statementsOf(messagesSend, { method: "POST", token: gone.token, json }, 401);
    expect(statements).toHaveLength(1);
    expect(statements[0]).toMatch(/INSERT INTO messages/);
    expect(await budgets()).toEqual(before);
    const { rows } = await getPool().query<{ n: number }>("SELECT count(*)::int AS n FROM messages WHERE sender_id = $1", [gone.id]);
    expect(rows[0].n).toBe(0);
  });

  it("refused by the sender's budget in its statement: a 429, nothing stored, the user then looked up alone", async () => {
    const spent = await newUser("trips_spent");
    await getPool().query("INSERT INTO rate_limits (key, points, expire) VALUES ($1, 1000000, $2)", [
      `send_burst:${spent.id}`,
      Date.now() + 3_600_000,
    ]);
    const json = { to: [reader.id], title: "past the budget", body: "b" };
    const statements = await statementsOf(messagesSend, { method: "POST", token: spent.token, json }, 429);
    expect(statements[0]).toMatch(/\bsessions\b[\s\S]*INSERT INTO messages/);
    expect(statements[1]).toBe(SESSION_USER_SQL);
    const { rows } = await getPool().query<{ n: number }>("SELECT count(*)::int AS n FROM messages WHERE sender_id = $1", [spent.id]);
    expect(rows[0].n).toBe(0);
  });

  it("spends the sender's budget first when there is work before the send (a reply's thread)", async () => {
    const first = await call(messagesSend, { method: "POST", token: writer.token, json: { to: [reader.id], title: "t", body: "b" } });
    const json = { to: [reader.id], title: "re", body: "b", in_reply_to: (first.body as { id: number }).id };
    const statements = await statementsOf(messagesSend, { method: "POST", token: writer.token, json });
    expect(statements).toHaveLength(4);
    expect(statements[1]).toMatch(/^\s*WITH\s+burst\b/i);
    expect(statements[1]).not.toMatch(/INSERT INTO messages/);
  });
});

describe("GET /users/me", () => {
  it("is the one lookup that authenticates it: the account's fields come with the user and session", async () => {
    await statementsOf(usersMe, { token: reader.token });
    const statements = await statementsOf(usersMe, { token: reader.token });
    expect(statements).toHaveLength(1);
    expect(statements[0]).toMatch(/\bsessions\b/i);
    const res = await call(usersMe, { token: reader.token });
    const { rows } = await getPool().query<{ created_at: Date }>("SELECT created_at FROM users WHERE id = $1", [reader.id]);
    expect(res.body).toEqual({ id: reader.id, username: reader.username, created_at: rows[0].created_at.toISOString() });
  });
});

describe("an attachment's download", () => {
  it("is one statement: the user, the session and the viewer's access to the attachment, with or without a session", async () => {
    const sent = await call(messagesSend, { method: "POST", token: writer.token, json: { to: [reader.id], title: "file", body: "b" } });
    const { rows } = await getPool().query<{ id: string }>(
      `INSERT INTO attachments (id, owner_id, blob_name, filename, content_type, size, message_id, position)
       VALUES (gen_random_uuid(), $1, 'trips-blob', 'a.txt', 'text/plain', 1, $2, 1) RETURNING id`,
      [writer.id, (sent.body as { id: number }).id],
    );
    const params = { message_id: String((sent.body as { id: number }).id), attachment_id: rows[0].id };
    await statementsOf(attachmentsDownload, { token: reader.token, params }, 302);

    const withSession = await statementsOf(attachmentsDownload, { token: reader.token, params }, 302);
    expect(withSession).toHaveLength(1);
    expect(withSession[0]).toMatch(/\bsessions\b[\s\S]*\battachments\b|\battachments\b[\s\S]*\bsessions\b/i);
    expect(withSession[0]).toMatch(/\bmessage_copies\b/i);

    // The batch's statement (shared/data/batched-rides.ts) finds a user by session or, for a token without one, by id.
    const withoutSession = await statementsOf(attachmentsDownload, { token: issueAccessToken(reader), params }, 302);
    expect(withoutSession).toHaveLength(1);
    expect(withoutSession[0]).toMatch(/\bmessage_copies\b/i);

    // A message the user holds no copy of: the same one statement, which finds nothing.
    const stranger = await statementsOf(attachmentsDownload, { token: writer.token, params: { ...params, message_id: "999999" } }, 404);
    expect(stranger).toHaveLength(1);
  });
});

describe("an upload slot", () => {
  it("is one statement: the user, the session, the counter's place and the row, with or without a session", async () => {
    const json = { filename: "trips.txt", content_type: "text/plain", size: 1 };
    await statementsOf(attachmentsCreate, { method: "POST", token: reader.token, json }, 201);

    const withSession = await statementsOf(attachmentsCreate, { method: "POST", token: reader.token, json }, 201);
    expect(withSession).toHaveLength(1);
    expect(withSession[0]).toMatch(/\bsessions\b[\s\S]*INSERT INTO attachment_pending_counts[\s\S]*INSERT INTO attachments\b/i);

    // The statement is the batch's (shared/data/batched-rides.ts): it finds a user by session or, for a token without one, by id.
    const withoutSession = await statementsOf(attachmentsCreate, { method: "POST", token: issueAccessToken(reader), json }, 201);
    expect(withoutSession).toHaveLength(1);
    expect(withoutSession[0]).toMatch(/INSERT INTO attachments\b/i);
  });
});

describe("an inbox page", () => {
  it("is one statement: the user, the session and the page, with or without a session; the same page as read alone", async () => {
    const query = { limit: "2" };
    await statementsOf(messagesInbox, { token: reader.token, query });

    const withSession = await statementsOf(messagesInbox, { token: reader.token, query });
    expect(withSession).toHaveLength(1);
    expect(withSession[0]).toMatch(/\bsessions\b[\s\S]*\bmessage_copies\b/i);
    const withoutSession = await statementsOf(messagesInbox, { token: issueAccessToken(reader), query });
    expect(withoutSession).toHaveLength(1);
    expect(withoutSession[0]).not.toMatch(/\bsessions\b/i);

    const page = await call(messagesInbox, { token: reader.token, query });
    const alone = await listInbox(reader.id, { limit: 2, maxBytes: 1_000_000 });
    expect(page.body).toEqual(JSON.parse(JSON.stringify(alone)));
    expect(page.headers.get("link")).toMatch(/before_id=/);
    // A page of nothing: the user still comes back, with no row.
    const empty = await call(messagesInbox, { token: writer.token, query });
    expect(empty.status).toBe(200);
    expect(empty.body).toEqual([]);
  });

  it("is read only for a token that holds: an ended session's reads nothing and is refused", async () => {
    const other = await newUser("trips_ended");
    await getPool().query("DELETE FROM sessions WHERE user_id = $1", [other.id]);
    const statements = await statementsOf(messagesInbox, { token: other.token, query: { limit: "2" } }, 401);
    expect(statements).toHaveLength(1);
  });

  it("plans the ride's page as the page alone, on the sessions' and users' keys; a search keeps a statement of its own", async () => {
    const pool = getPool();
    const { rows } = await pool.query<{ id: string }>("SELECT id FROM sessions WHERE user_id = $1 LIMIT 1", [reader.id]);
    const copiesScan = (plan: string) => plan.match(/\w+ Scan(?: using \w+)? on message_copies c\b/)?.[0];
    const page = { limit: 50, maxBytes: 1_000_000 };
    const ride = inboxRide(page)!;
    const rode = await planOf(ride.statements.bySession.text, [reader.id, ...ride.keys, reader.username, rows[0].id]);
    const alone = inboxQuery(reader.id, page);
    expect(rode).toMatch(/Index Scan using sessions_pkey on sessions/);
    expect(rode).not.toMatch(/Seq Scan on (users|sessions) /);
    expect(copiesScan(rode)).toBeDefined();
    expect(copiesScan(rode)).toBe(copiesScan(await planOf(alone.text, alone.values)));
    // A search's best plan depends on its words: it keeps a statement of its own.
    expect(inboxRide({ limit: 50, maxBytes: 1_000_000, q: "word" })).toBeNull();
    const search = await statementsOf(messagesInbox, { token: reader.token, query: { limit: "2", q: "m1" } });
    expect(search).toHaveLength(2);
  });
});
