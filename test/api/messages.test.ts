import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { messagesInbox } from "../../functions/messages-inbox";
import { messagesMarkRead } from "../../functions/messages-mark-read";
import { messagesOutbox } from "../../functions/messages-outbox";
import { messagesSend } from "../../functions/messages-send";
import { messagesUnreadCount } from "../../functions/messages-unread-count";
import { getPool } from "../../shared/data/db";
import { inboxQuery, outboxQuery } from "../../shared/data/messages";
import { useTestDatabase, type TestDatabase } from "../support/database";
import { call } from "../support/http";
import { newUser, type TestUser } from "../support/users";

let db: TestDatabase;
beforeAll(async () => {
  db = await useTestDatabase();
});
afterAll(async () => {
  await db.close();
});

type Msg = Record<string, unknown> & { id: number; title: string; is_read: boolean };

const send = (from: TestUser, json: unknown, headers: Record<string, string> = {}) =>
  call(messagesSend, { method: "POST", token: from.token, json, headers });
const read = (user: TestUser, id: string | number) =>
  call(messagesMarkRead, { method: "PUT", token: user.token, params: { message_id: String(id) } });
const count = async (user: TestUser) =>
  ((await call(messagesUnreadCount, { token: user.token })).body as { unread_count: number }).unread_count;
const messageCount = async () => (await getPool().query("SELECT count(*)::int AS n FROM messages")).rows[0].n as number;

describe("POST /messages/", () => {
  it("stores and returns the full message object", async () => {
    const [alice, bob] = [await newUser("alice"), await newUser("bob")];
    const res = await send(alice, { recipient_id: bob.id, title: "  Hello  ", body: "Hi Bob" });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      id: expect.any(Number),
      sender_id: alice.id,
      recipient_id: bob.id,
      title: "Hello",
      body: "Hi Bob",
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      is_read: false,
      sender_username: alice.username,
      recipient_username: bob.username,
      in_reply_to: null,
      thread_id: (res.body as Msg).id,
      to: [{ id: bob.id, username: bob.username }],
      cc: [],
      bcc: [],
      folder: "sent",
      copy: "sent",
      is_starred: false,
      read_by: [],
      attachments: [],
    });
    expect(Math.abs(Date.parse((res.body as Msg).timestamp as string) - Date.now())).toBeLessThan(60_000);
  });

  it('accepts recipient_id as a numeric string ("2")', async () => {
    const [a, b] = [await newUser(), await newUser()];
    const res = await send(a, { recipient_id: String(b.id), title: "t", body: "b" });
    expect(res.status).toBe(200);
    expect((res.body as Msg).recipient_id).toBe(b.id);
  });

  it("404 Recipient not found, storing nothing", async () => {
    const a = await newUser();
    const before = await messageCount();
    for (const recipient_id of [99_999_999, 2 ** 40, -1]) {
      const res = await send(a, { recipient_id, title: "t", body: "b" });
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ detail: "Recipient not found" });
    }
    expect(await messageCount()).toBe(before);
  });

  it.each([
    [{ recipient_id: "two", title: "t", body: "b" }, "recipient_id", "int_parsing"],
    [{ recipient_id: 1.5, title: "t", body: "b" }, "recipient_id", "int_from_float"],
    [{ recipient_id: true, title: "t", body: "b" }, "recipient_id", "int_type"],
    [{ recipient_id: null, title: "t", body: "b" }, "recipient_id", "int_type"],
    [{ title: "t", body: "b" }, "recipient_id", "missing"],
    [{ recipient_id: 1, title: "   ", body: "b" }, "title", "string_too_short"],
    [{ recipient_id: 1, title: "t".repeat(256), body: "b" }, "title", "string_too_long"],
    [{ recipient_id: 1, title: "t", body: "" }, "body", "string_too_short"],
    [{ recipient_id: 1, title: "t", body: "b".repeat(100_001) }, "body", "string_too_long"],
    [{ recipient_id: 1, title: ["t"], body: "b" }, "title", "string_type"],
  ])("422 for %#", async (json, field, type) => {
    const a = await newUser();
    const before = await messageCount();
    const res = await send(a, json);
    expect(res.status).toBe(422);
    expect((res.body as { detail: unknown[] }).detail).toContainEqual(expect.objectContaining({ loc: ["body", field], type }));
    expect(await messageCount()).toBe(before);
  });

  it("counts characters, not UTF-16 units: 255 emoji make a valid title", async () => {
    const [a, b] = [await newUser(), await newUser()];
    const res = await send(a, { recipient_id: b.id, title: "😀".repeat(255), body: "ok" });
    expect(res.status).toBe(200);
    expect((await send(a, { recipient_id: b.id, title: "😀".repeat(256), body: "ok" })).status).toBe(422);
  });

  it("401 without a token, before looking at the body", async () => {
    const res = await call(messagesSend, { method: "POST", json: { nonsense: true } });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ detail: "Not authenticated" });
  });
});

describe("inbox, outbox and unread count", () => {
  let alice: TestUser, bob: TestUser, carol: TestUser;
  const ids: number[] = [];

  beforeAll(async () => {
    [alice, bob, carol] = [await newUser("ia"), await newUser("ib"), await newUser("ic")];
    for (let i = 1; i <= 5; i++) ids.push(((await send(alice, { recipient_id: bob.id, title: `a${i}`, body: "x" })).body as Msg).id);
    await send(carol, { recipient_id: bob.id, title: "c1", body: "x" });
    await send(bob, { recipient_id: alice.id, title: "reply", body: "x" });
  });

  it("inbox is newest first with both usernames", async () => {
    const res = await call(messagesInbox, { token: bob.token });
    expect(res.status).toBe(200);
    const list = res.body as Msg[];
    expect(list.map((m) => m.title)).toEqual(["c1", "a5", "a4", "a3", "a2", "a1"]);
    expect(list[0]).toMatchObject({ sender_username: carol.username, recipient_username: bob.username, recipient_id: bob.id });
    expect(list[1]).toMatchObject({ sender_username: alice.username, body: "x", is_read: false });
  });

  it("outbox is newest first and holds only what the user sent", async () => {
    const res = await call(messagesOutbox, { token: alice.token });
    expect((res.body as Msg[]).map((m) => m.title)).toEqual(["a5", "a4", "a3", "a2", "a1"]);
    expect((res.body as Msg[]).every((m) => m.sender_id === alice.id && m.recipient_username === bob.username)).toBe(true);
  });

  it("pages with limit and the before_id cursor", async () => {
    const first = (await call(messagesInbox, { token: bob.token, query: { limit: "2" } })).body as Msg[];
    expect(first.map((m) => m.title)).toEqual(["c1", "a5"]);
    const second = (await call(messagesInbox, { token: bob.token, query: { limit: "2", before_id: String(first[1].id) } })).body as Msg[];
    expect(second.map((m) => m.title)).toEqual(["a4", "a3"]);
    const outPage = (await call(messagesOutbox, { token: alice.token, query: { before_id: String(ids[2]) } })).body as Msg[];
    expect(outPage.map((m) => m.title)).toEqual(["a2", "a1"]);
    const beyond = (await call(messagesInbox, { token: bob.token, query: { before_id: String(2 ** 40) } })).body as Msg[];
    expect(beyond).toHaveLength(6);
  });

  it("422 for bad paging parameters, with loc in query", async () => {
    for (const query of [{ limit: "0" }, { limit: "1001" }, { before_id: "x" }, { before_id: "0" }, { unread: "maybe" }] as Record<
      string,
      string
    >[]) {
      const res = await call(messagesInbox, { token: bob.token, query });
      expect(res.status, JSON.stringify(query)).toBe(422);
      expect((res.body as { detail: { loc: unknown[] }[] }).detail[0].loc).toEqual(["query", Object.keys(query)[0]]);
    }
  });

  it("filters unread, counts unread, and marks read idempotently", async () => {
    expect(await count(bob)).toBe(6);
    const res = await read(bob, ids[0]);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ message: "Mensagem marcada como lida" });
    expect((await read(bob, ids[0])).status).toBe(200);
    expect(await count(bob)).toBe(5);
    const unread = (await call(messagesInbox, { token: bob.token, query: { unread: "true" } })).body as Msg[];
    expect(unread).toHaveLength(5);
    expect(unread.some((m) => m.id === ids[0])).toBe(false);
    const readOnly = (await call(messagesInbox, { token: bob.token, query: { unread: "false" } })).body as Msg[];
    expect(readOnly.map((m) => m.id)).toEqual([ids[0]]);
    expect(readOnly[0].is_read).toBe(true);
    const { rows } = await getPool().query("SELECT read_at FROM message_copies WHERE message_id = $1 AND received", [ids[0]]);
    expect(rows[0].read_at).toBeInstanceOf(Date);
  });

  it("404 for a missing message or someone else's, changing nothing", async () => {
    for (const [user, id] of [
      [alice, ids[1]], // alice sent it; only bob may mark it
      [carol, ids[1]],
      [bob, 99_999_999],
      [bob, 2 ** 40],
    ] as const) {
      const res = await read(user, id);
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ detail: "Message not found" });
    }
    const { rows } = await getPool().query("SELECT is_read FROM message_copies WHERE message_id = $1 AND received", [ids[1]]);
    expect(rows[0].is_read).toBe(false);
  });

  it("422 for a message id that is not an integer", async () => {
    const res = await read(bob, "abc");
    expect(res.status).toBe(422);
    expect((res.body as { detail: { loc: unknown[] }[] }).detail[0].loc).toEqual(["path", "message_id"]);
  });

  it("unread count is per user", async () => {
    expect(await count(alice)).toBe(1);
    expect(await count(carol)).toBe(0);
  });
});

describe("the queries use their indexes", () => {
  it("inbox, outbox and unread-filter plans use the mailbox indexes, not a sequential scan", async () => {
    const client = await getPool().connect();
    try {
      await client.query("SET enable_seqscan = off");
      const plans = [
        inboxQuery(1, { limit: 50, before_id: 100 }),
        outboxQuery(1, { limit: 50 }),
        inboxQuery(1, { limit: 50, unread: true }),
      ];
      for (const query of plans) {
        const { rows } = await client.query({ text: `EXPLAIN ${query.text}`, values: query.values });
        const plan = rows.map((r) => r["QUERY PLAN"]).join("\n");
        expect(plan).toMatch(/Index (Only )?Scan|Bitmap Index Scan/);
        expect(plan).toMatch(/message_copies_(folder|unread|live)_idx/);
      }
    } finally {
      client.release();
    }
  });
});
