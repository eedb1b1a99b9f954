/**
 * Several recipients, folders and flags (the contract's section of that name), handler by handler
 * against a real database: sending to to/cc/bcc, each viewer's view, bcc and thread privacy, read
 * receipts, PATCH, bulk changes, counts, filters, bad input and the trash sweep.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { messagesBulk } from "../../functions/messages-bulk";
import { messagesCounts } from "../../functions/messages-counts";
import { messagesDelete } from "../../functions/messages-delete";
import { messagesList } from "../../functions/messages-list";
import { messagesMarkRead } from "../../functions/messages-mark-read";
import { messagesSend } from "../../functions/messages-send";
import { messagesThread } from "../../functions/messages-thread";
import { messagesUpdate } from "../../functions/messages-update";
import { messagesView } from "../../functions/messages-view";
import { sweepTrash } from "../../shared/data/copy-changes";
import { getPool } from "../../shared/data/db";
import { readEvents } from "../../shared/data/event-log";
import { countsFromRows, type CounterRow, type MailboxCounts } from "../../shared/data/messages";
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

type Person = { id: number; username: string };
type Msg = {
  id: number;
  recipient_id: number;
  recipient_username: string;
  is_read: boolean;
  in_reply_to: number | null;
  thread_id: number;
  to: Person[];
  cc: Person[];
  bcc: Person[];
  folder: string;
  is_starred: boolean;
  read_by: { id: number; read_at: string | null }[];
};

const person = (u: TestUser): Person => ({ id: u.id, username: u.username });
const sendRaw = (from: TestUser, json: Record<string, unknown>) => call(messagesSend, { method: "POST", token: from.token, json });
async function send(from: TestUser, json: Record<string, unknown>): Promise<Msg> {
  const res = await sendRaw(from, { title: "t", body: "b", ...json });
  expect(res.status, res.text).toBe(200);
  return res.body as Msg;
}
const view = async (user: TestUser, id: number) => {
  const res = await call(messagesView, { token: user.token, params: { message_id: String(id) } });
  return res.status === 200 ? (res.body as Msg) : null;
};
const patch = (user: TestUser, id: number | string, json: unknown) =>
  call(messagesUpdate, { method: "PATCH", token: user.token, params: { message_id: String(id) }, json });
const bulk = (user: TestUser, json: unknown) => call(messagesBulk, { method: "POST", token: user.token, json });
const list = async (user: TestUser, query: Record<string, string> = {}) => {
  const res = await call(messagesList, { token: user.token, query });
  expect(res.status, res.text).toBe(200);
  return (res.body as Msg[]).map((m) => m.id);
};
const counts = async (user: TestUser) => (await call(messagesCounts, { token: user.token })).body as MailboxCounts;
const messageRows = async () => (await getPool().query("SELECT count(*)::int AS n FROM messages")).rows[0].n as number;
const issue = (res: { body: unknown }) => (res.body as { detail: { loc: unknown[]; type: string }[] }).detail[0];

/** The counters recounted from the copies themselves, in the shape GET /messages/counts answers. */
async function recount(userId: number): Promise<MailboxCounts> {
  const { rows } = await getPool().query<CounterRow>(
    `SELECT folder, count(*)::int AS total, count(*) FILTER (WHERE received AND NOT is_read)::int AS unread
       FROM message_copies WHERE user_id = $1 GROUP BY folder
     UNION ALL
     SELECT 'starred', count(*)::int, count(*) FILTER (WHERE received AND NOT is_read)::int
       FROM message_copies WHERE user_id = $1 AND is_starred AND folder <> 'trash'`,
    [userId],
  );
  return countsFromRows(rows);
}

describe("sending to to, cc and bcc", () => {
  it("stores one message and a copy for each recipient; the sender's view names every list", async () => {
    const [a, b, c, d] = [await newUser("snd"), await newUser("tob"), await newUser("ccc"), await newUser("bcd")];
    const m = await send(a, { to: [b.id], cc: [c.id], bcc: [d.id] });
    expect(m).toMatchObject({
      recipient_id: b.id,
      recipient_username: b.username,
      to: [person(b)],
      cc: [person(c)],
      bcc: [person(d)],
      folder: "sent",
      is_read: false,
      read_by: [],
    });
    for (const r of [b, c, d]) expect(await view(r, m.id)).toMatchObject({ folder: "inbox", is_read: false, recipient_id: r.id });
    for (const r of [b, c, d]) expect((await counts(r)).inbox).toEqual({ total: 1, unread: 1 });
    expect((await counts(a)).sent).toEqual({ total: 1 });
  });

  it("counts an id listed twice once, in the first list naming it", async () => {
    const [a, b, c] = [await newUser(), await newUser(), await newUser()];
    const m = await send(a, { to: [b.id, b.id, c.id], cc: [c.id, b.id], bcc: [b.id] });
    expect(m.to).toEqual([person(b), person(c)]);
    expect(m.cc).toEqual([]);
    expect(m.bcc).toEqual([]);
    expect((await counts(b)).inbox.total).toBe(1);
  });

  it("each recipient gets its own new_message, with its own unread count", async () => {
    const [a, b, c] = [await newUser(), await newUser(), await newUser()];
    await send(a, { to: [c.id] });
    const m = await send(a, { to: [b.id, c.id] });
    for (const [r, unread] of [
      [b, 1],
      [c, 2],
    ] as const) {
      const page = await readEvents(r.id, 0, 100);
      if (page.kind !== "page") throw new Error("events gone");
      const last = page.events[page.events.length - 1] as unknown as { event: string; message: { id: number }; unread_count: number };
      expect(last).toMatchObject({ event: "new_message", message: { id: m.id }, unread_count: unread });
    }
  });

  it("any unknown recipient: 404 and nothing stored for anyone", async () => {
    const [a, b] = [await newUser(), await newUser()];
    const before = await messageRows();
    const res = await sendRaw(a, { to: [b.id], cc: [99_999_999], title: "t", body: "b" });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ detail: "Recipient not found" });
    expect(await messageRows()).toBe(before);
    expect((await counts(b)).inbox.total).toBe(0);
  });

  it.each([
    ["both forms at once", (b: number) => ({ recipient_id: b, to: [b] }), ["body", "to"]],
    ["an empty to", () => ({ to: [] }), ["body", "to"]],
    ["neither form", () => ({}), ["body", "recipient_id"]],
    ["an id beyond int4", (b: number) => ({ to: [b], cc: [2 ** 31] }), ["body", "cc", 0]],
    ["more than MAX_RECIPIENTS distinct ids", () => ({ to: Array.from({ length: 51 }, (_, i) => i + 1) }), ["body", "to"]],
  ])("422 naming the field for %s, storing nothing", async (_name, body, loc) => {
    const [a, b] = [await newUser(), await newUser()];
    const before = await messageRows();
    const res = await sendRaw(a, { title: "t", body: "b", ...body(b.id) });
    expect(res.status, res.text).toBe(422);
    expect(issue(res).loc).toEqual(loc);
    expect(await messageRows()).toBe(before);
  });

  it("50 distinct recipients with repeats is within MAX_RECIPIENTS", async () => {
    const a = await newUser();
    const many = await Promise.all(Array.from({ length: 50 }, () => newUser("many")));
    const ids = many.map((u) => u.id);
    const m = await send(a, { to: ids.slice(0, 30), cc: ids.slice(20), bcc: ids.slice(0, 5) });
    expect(m.to.length + m.cc.length + m.bcc.length).toBe(50);
  });
});

describe("bcc privacy", () => {
  it("bcc shows in the sender's view only; nobody else learns who was blind-copied, not even through the to filter", async () => {
    const [a, b, c, d] = [await newUser(), await newUser(), await newUser(), await newUser()];
    const m = await send(a, { to: [b.id], bcc: [c.id, d.id] });
    expect((await view(a, m.id))?.bcc).toEqual([person(c), person(d)]);
    for (const r of [b, c, d]) {
      const seen = await view(r, m.id);
      expect(seen?.bcc).toEqual([]);
      expect(seen?.to).toEqual([person(b)]);
      expect(JSON.stringify(seen)).not.toContain(r === c ? d.username : c.username);
    }
    // The to filter finds what the viewer may see: the sender finds it by a bcc recipient, b does not.
    expect(await list(a, { to: String(c.id) })).toEqual([m.id]);
    expect(await list(b, { to: String(c.id) })).toEqual([]);
    expect(await list(b, { to: String(b.id) })).toEqual([m.id]);
    // A bcc recipient finds it by itself (it knows it received it), and by the visible to.
    expect(await list(c, { to: String(c.id) })).toEqual([m.id]);
    expect(await list(c, { to: String(d.id) })).toEqual([]);
  });
});

describe("read receipts", () => {
  it("read_by lists each recipient's first read, bcc included, for the sender only; is_read once all have read", async () => {
    const [a, b, c] = [await newUser(), await newUser(), await newUser()];
    const m = await send(a, { to: [b.id], bcc: [c.id] });
    const read = (u: TestUser) => call(messagesMarkRead, { method: "PUT", token: u.token, params: { message_id: String(m.id) } });
    expect((await read(b)).status).toBe(200);
    let sent = (await view(a, m.id)) as Msg;
    expect(sent.read_by.map((r) => r.id)).toEqual([b.id]);
    expect(sent.read_by[0].read_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(sent.is_read).toBe(false);
    await read(c);
    sent = (await view(a, m.id)) as Msg;
    expect(sent.read_by.map((r) => r.id).sort()).toEqual([b.id, c.id].sort());
    expect(sent.is_read).toBe(true);
    expect((await view(b, m.id))?.read_by).toEqual([]);
    const page = await readEvents(a.id, 0, 100);
    if (page.kind !== "page") throw new Error("events gone");
    const receipts = page.events.filter((e) => e.event === "message_read") as unknown as { message_id: number; reader_id: number }[];
    expect(receipts.map((r) => r.reader_id)).toEqual([b.id, c.id]);
  });

  it("a receipt belongs to the sender: it stays when the reader marks the copy unread, reads it again or deletes it", async () => {
    const [a, b, c] = [await newUser(), await newUser(), await newUser()];
    const m = await send(a, { to: [b.id], cc: [c.id] });
    expect((await patch(b, m.id, { is_read: true })).status).toBe(200);
    const firstRead = ((await view(a, m.id)) as Msg).read_by;
    expect(firstRead.map((r) => r.id)).toEqual([b.id]);
    // Unread and read again: still the first read, and no second receipt.
    expect((await patch(b, m.id, { is_read: false })).status).toBe(200);
    expect(((await view(a, m.id)) as Msg).read_by).toEqual(firstRead);
    expect((await patch(b, m.id, { is_read: true })).status).toBe(200);
    expect(((await view(a, m.id)) as Msg).read_by).toEqual(firstRead);
    // The reader deletes its copy, the other recipient deletes its copy unread.
    expect((await bulk(b, { ids: [m.id], delete: true })).status).toBe(200);
    let sent = (await view(a, m.id)) as Msg;
    expect(sent.read_by).toEqual(firstRead);
    expect(sent.is_read).toBe(false);
    expect((await bulk(c, { ids: [m.id], delete: true })).status).toBe(200);
    sent = (await view(a, m.id)) as Msg;
    expect(sent.read_by).toEqual(firstRead);
    expect(sent.is_read).toBe(false);
    const page = await readEvents(a.id, 0, 100);
    if (page.kind !== "page") throw new Error("events gone");
    expect(page.events.filter((e) => e.event === "message_read").map((e) => (e as { reader_id: number }).reader_id)).toEqual([b.id]);
  });

  it("is_read in the sender's view stays true when every recipient read it and then deleted their copies", async () => {
    const [a, b] = [await newUser(), await newUser()];
    const m = await send(a, { to: [b.id] });
    expect((await patch(b, m.id, { is_read: true })).status).toBe(200);
    expect((await bulk(b, { ids: [m.id], delete: true })).status).toBe(200);
    const sent = (await view(a, m.id)) as Msg;
    expect(sent.is_read).toBe(true);
    expect(sent.read_by.map((r) => r.id)).toEqual([b.id]);
  });
});

describe("a note to oneself", () => {
  it("its id names the received copy for PATCH, bulk and view; DELETE and a bulk delete remove the sent copy too", async () => {
    const a = await newUser();
    const [m, n] = [await send(a, { to: [a.id] }), await send(a, { to: [a.id] })];
    expect(await counts(a)).toMatchObject({ inbox: { total: 2, unread: 2 }, sent: { total: 2 } });
    expect((await view(a, m.id))?.folder).toBe("inbox");
    // The received copy moves; the sent copy stays in sent, and `sent` is not a received copy's folder.
    expect((await patch(a, m.id, { folder: "archive", is_starred: true, is_read: true })).body).toMatchObject({
      folder: "archive",
      is_starred: true,
      is_read: true,
    });
    expect((await patch(a, m.id, { folder: "sent" })).status).toBe(422);
    expect(await bulk(a, { ids: [n.id], set: { folder: "trash" } })).toMatchObject({ status: 200, body: { updated: [n.id] } });
    expect(await counts(a)).toMatchObject({ inbox: { total: 0 }, archive: { total: 1 }, trash: { total: 1 }, sent: { total: 2 } });
    expect(await list(a, { folder: "sent" })).toEqual([n.id, m.id]);
    // Deleting removes both of the sender's copies, and the message with them.
    const before = await messageRows();
    expect((await call(messagesDelete, { method: "DELETE", token: a.token, params: { message_id: String(m.id) } })).status).toBe(204);
    expect(await bulk(a, { ids: [n.id], delete: true })).toMatchObject({ status: 200, body: { updated: [n.id], not_found: [] } });
    expect(await counts(a)).toMatchObject({ archive: { total: 0 }, trash: { total: 0 }, sent: { total: 0 } });
    expect(await list(a, { folder: "sent" })).toEqual([]);
    expect(await view(a, m.id)).toBeNull();
    expect(await messageRows()).toBe(before - 2);
  });
});

describe("each copy of a note to oneself, named by ?copy= (or the bulk's copy)", () => {
  const copyOf = (user: TestUser, id: number, copy: string) =>
    call(messagesView, { token: user.token, params: { message_id: String(id) }, query: { copy } });
  const patchCopy = (user: TestUser, id: number, copy: string, json: unknown) =>
    call(messagesUpdate, { method: "PATCH", token: user.token, params: { message_id: String(id) }, query: { copy }, json });
  const deleteCopy = (user: TestUser, id: number, copy: string) =>
    call(messagesDelete, { method: "DELETE", token: user.token, params: { message_id: String(id) }, query: { copy } });

  it("trashes, restores and deletes the sent copy alone, or the received one alone; the other stays where it was", async () => {
    const [a, b] = [await newUser(), await newUser()];
    const m = await send(a, { to: [a.id], title: "note" });
    expect(m).toMatchObject({ copy: "sent", folder: "sent" });
    expect(await view(a, m.id)).toMatchObject({ copy: "received", folder: "inbox" });
    expect((await copyOf(a, m.id, "sent")).body).toMatchObject({ copy: "sent", folder: "sent" });
    // The sent copy to trash: the received one stays in the inbox, unread.
    expect((await patchCopy(a, m.id, "sent", { folder: "trash" })).body).toMatchObject({ copy: "sent", folder: "trash" });
    expect(await counts(a)).toMatchObject({ inbox: { total: 1, unread: 1 }, trash: { total: 1, unread: 0 }, sent: { total: 0 } });
    expect(await view(a, m.id)).toMatchObject({ copy: "received", folder: "inbox" });
    const { events } = (await readEvents(a.id, 0, 100)) as unknown as { events: Record<string, unknown>[] };
    expect(events.at(-1)).toMatchObject({ event: "message_updated", message_id: m.id, copy: "sent", folder: "trash" });
    // A sent copy's folders only; restored from trash to sent.
    expect((await patchCopy(a, m.id, "sent", { folder: "inbox" })).status).toBe(422);
    expect((await patchCopy(a, m.id, "sent", { folder: "sent" })).body).toMatchObject({ copy: "sent", folder: "sent" });
    // The received copy to trash alone, then deleted alone: the sent copy and the message stay.
    expect((await patchCopy(a, m.id, "received", { folder: "trash" })).body).toMatchObject({ copy: "received", folder: "trash" });
    expect((await copyOf(a, m.id, "sent")).body).toMatchObject({ folder: "sent" });
    const before = await messageRows();
    expect((await deleteCopy(a, m.id, "received")).status).toBe(204);
    expect((await copyOf(a, m.id, "received")).status).toBe(404);
    expect(await view(a, m.id)).toMatchObject({ copy: "sent", folder: "sent" });
    expect(await counts(a)).toMatchObject({ inbox: { total: 0 }, trash: { total: 0 }, sent: { total: 1 } });
    expect(await messageRows()).toBe(before);
    expect(await counts(a)).toEqual(await recount(a.id));
    // Someone else's message has no sent copy of theirs to name; a bad name is a 422 naming the field.
    const fromB = await send(b, { to: [a.id] });
    expect((await copyOf(a, fromB.id, "sent")).status).toBe(404);
    expect((await patchCopy(a, fromB.id, "sent", { is_starred: true })).status).toBe(404);
    expect((await deleteCopy(a, fromB.id, "sent")).status).toBe(404);
    const bad = await copyOf(a, m.id, "mine");
    expect(bad.status).toBe(422);
    expect(issue(bad).loc).toEqual(["query", "copy"]);
  });

  it("a bulk change or delete applies to the copy it names", async () => {
    const a = await newUser();
    const [m, n] = [await send(a, { to: [a.id] }), await send(a, { to: [a.id] })];
    expect(await bulk(a, { ids: [m.id, n.id], set: { folder: "trash" }, copy: "sent" })).toMatchObject({
      status: 200,
      body: { updated: [m.id, n.id], not_found: [] },
    });
    expect(await counts(a)).toMatchObject({ inbox: { total: 2 }, trash: { total: 2 }, sent: { total: 0 } });
    expect(await bulk(a, { ids: [m.id, n.id], delete: true, copy: "sent" })).toMatchObject({
      status: 200,
      body: { updated: [m.id, n.id], not_found: [] },
    });
    expect(await counts(a)).toMatchObject({ inbox: { total: 2, unread: 2 }, trash: { total: 0 }, sent: { total: 0 } });
    expect(await list(a, { folder: "inbox" })).toEqual([n.id, m.id]);
    expect(await counts(a)).toEqual(await recount(a.id));
  });
});

describe("thread privacy", () => {
  it("someone added to a conversation later sees the reply as the start of their own thread", async () => {
    const [a, b, c] = [await newUser(), await newUser(), await newUser()];
    const first = await send(a, { to: [b.id], title: "between a and b" });
    const reply = await send(b, { to: [a.id, c.id], in_reply_to: first.id, title: "c joins" });
    expect(reply).toMatchObject({ in_reply_to: first.id, thread_id: first.id });
    expect(await view(a, reply.id)).toMatchObject({ in_reply_to: first.id, thread_id: first.id });
    const seenByC = (await view(c, reply.id)) as Msg;
    expect(seenByC).toMatchObject({ in_reply_to: null, thread_id: reply.id });
    expect(JSON.stringify(seenByC)).not.toContain(`:${first.id},`);
    const threadOfC = await call(messagesThread, { token: c.token, params: { message_id: String(reply.id) } });
    expect((threadOfC.body as Msg[]).map((m) => m.id)).toEqual([reply.id]);
    const threadOfA = await call(messagesThread, { token: a.token, params: { message_id: String(reply.id) } });
    expect((threadOfA.body as Msg[]).map((m) => m.id)).toEqual([first.id, reply.id]);
    // c's reply to it joins c's thread for c, and a's (older) thread for a.
    const back = await send(c, { to: [a.id], in_reply_to: reply.id });
    expect(back.thread_id).toBe(reply.id);
    expect(await view(a, back.id)).toMatchObject({ in_reply_to: reply.id, thread_id: first.id });
  });
});

describe("PATCH /messages/{message_id}", () => {
  it("moves, stars and marks the caller's copy only, counters following; trash can be restored", async () => {
    const [a, b] = [await newUser(), await newUser()];
    const m = await send(a, { to: [b.id] });
    const archived = await patch(b, m.id, { folder: "archive", is_starred: true });
    expect(archived.status, archived.text).toBe(200);
    expect(archived.body).toMatchObject({ id: m.id, folder: "archive", is_starred: true, is_read: false });
    expect(await counts(b)).toEqual({
      inbox: { total: 0, unread: 0 },
      archive: { total: 1, unread: 1 },
      trash: { total: 0, unread: 0 },
      sent: { total: 0 },
      starred: { total: 1, unread: 1 },
    });
    expect((await view(a, m.id))?.folder).toBe("sent");
    expect((await patch(b, m.id, { folder: "trash" })).body).toMatchObject({ folder: "trash" });
    expect((await counts(b)).starred).toEqual({ total: 0, unread: 0 });
    expect(await list(b)).toEqual([]);
    expect(await list(b, { folder: "trash" })).toEqual([m.id]);
    expect((await patch(b, m.id, { folder: "inbox", is_read: true })).body).toMatchObject({ folder: "inbox", is_read: true });
    expect(await counts(b)).toEqual(await recount(b.id));
    expect((await patch(a, m.id, { folder: "trash" })).body).toMatchObject({ folder: "trash" });
  });

  it("422 for a folder the copy cannot be in, or nothing to set; 404 for someone else's; nothing changes", async () => {
    const [a, b, c] = [await newUser(), await newUser(), await newUser()];
    const m = await send(a, { to: [b.id] });
    for (const [user, body] of [
      [b, { folder: "sent" }],
      [a, { folder: "inbox" }],
      [a, { folder: "archive" }],
      [b, { folder: "spam" }],
      [b, {}],
    ] as const) {
      const res = await patch(user, m.id, body);
      expect(res.status, JSON.stringify(body)).toBe(422);
      expect(issue(res).loc[0]).toBe("body");
    }
    expect(issue(await patch(b, m.id, { folder: "sent" })).loc).toEqual(["body", "folder"]);
    expect((await patch(c, m.id, { is_starred: true })).status).toBe(404);
    expect((await patch(b, 2 ** 40, { is_starred: true })).status).toBe(404);
    expect(await view(b, m.id)).toMatchObject({ folder: "inbox", is_starred: false });
    expect(await view(a, m.id)).toMatchObject({ folder: "sent", is_starred: false });
  });
});

describe("POST /messages/bulk", () => {
  it("changes every named copy in one transaction, answering which ids it held, with one frame", async () => {
    const [a, b] = [await newUser(), await newUser()];
    const ids = [(await send(a, { to: [b.id] })).id, (await send(a, { to: [b.id] })).id, (await send(a, { to: [b.id] })).id];
    const before = await readEvents(b.id, 0, 1000);
    const res = await bulk(b, { ids: [...ids, ids[0], 99_999_999], set: { folder: "archive", is_read: true } });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toEqual({ updated: ids, not_found: [99_999_999] });
    expect((await counts(b)).archive).toEqual({ total: 3, unread: 0 });
    const after = await readEvents(b.id, before.latestSeq, 1000);
    if (after.kind !== "page") throw new Error("events gone");
    const updates = after.events.filter((e) => e.event === "messages_updated");
    expect(updates).toEqual([{ event: "messages_updated", message_ids: ids, folder: "archive", is_read: true, seq: expect.any(Number) }]);
    expect(after.events.filter((e) => e.event === "message_updated")).toEqual([]);
  });

  it("delete: removes the caller's copies, erasing messages left without any", async () => {
    const [a, b] = [await newUser(), await newUser()];
    const m1 = await send(a, { to: [b.id] });
    const m2 = await send(a, { to: [b.id] });
    expect((await bulk(a, { ids: [m1.id], delete: true })).body).toEqual({ updated: [m1.id], not_found: [] });
    expect((await bulk(b, { ids: [m1.id, m2.id], delete: true })).body).toEqual({ updated: [m1.id, m2.id], not_found: [] });
    const { rows } = await getPool().query("SELECT id FROM messages WHERE id = ANY($1)", [[m1.id, m2.id]]);
    expect(rows.map((r) => r.id)).toEqual([m2.id]);
    expect(await counts(b)).toEqual(await recount(b.id));
  });

  it.each([
    ["501 ids", { ids: Array.from({ length: 501 }, (_, i) => i + 1), set: { is_starred: true } }, ["body", "ids"]],
    ["no ids", { ids: [], set: { is_starred: true } }, ["body", "ids"]],
    ["an id beyond int4", { ids: [1, 2 ** 31], set: { is_starred: true } }, ["body", "ids", 1]],
    ["both set and delete", { ids: [1], set: { is_starred: true }, delete: true }, ["body", "set"]],
    ["neither set nor delete", { ids: [1] }, ["body", "set"]],
    ["an unknown folder", { ids: [1], set: { folder: "spam" } }, ["body", "set", "folder"]],
  ])("422 naming the field for %s", async (_name, body, loc) => {
    const b = await newUser();
    const res = await bulk(b, body);
    expect(res.status, res.text).toBe(422);
    expect(issue(res).loc).toEqual(loc);
  });

  it("a folder one copy cannot be in refuses the whole request: nothing changes", async () => {
    const [a, b] = [await newUser(), await newUser()];
    const received = await send(a, { to: [b.id] });
    const sent = await send(b, { to: [a.id] });
    const res = await bulk(b, { ids: [received.id, sent.id], set: { folder: "archive", is_starred: true } });
    expect(res.status).toBe(422);
    expect(issue(res).loc).toEqual(["body", "set", "folder"]);
    expect(await view(b, received.id)).toMatchObject({ folder: "inbox", is_starred: false });
    expect(await counts(b)).toEqual(await recount(b.id));
  });
});

describe("GET /messages/ filters", () => {
  it("each filter keeps exactly the caller's copies that match", async () => {
    const [a, b, c] = [await newUser(), await newUser(), await newUser()];
    const fromA = await send(a, { to: [b.id], title: "quarterly report" });
    const fromC = await send(c, { to: [b.id], cc: [a.id], title: "lunch" });
    const own = await send(b, { to: [c.id], title: "reply" });
    await patch(b, fromA.id, { is_starred: true, is_read: true });
    await getPool().query(`UPDATE message_copies SET "timestamp" = '2020-01-01T00:00:00Z' WHERE message_id = $1`, [fromC.id]);
    await getPool().query(`UPDATE message_copies SET has_attachments = true WHERE message_id = $1`, [own.id]);
    const all = [own.id, fromC.id, fromA.id];
    expect(await list(b)).toEqual(all);
    expect(await list(b, { folder: "inbox" })).toEqual([fromC.id, fromA.id]);
    expect(await list(b, { folder: "sent" })).toEqual([own.id]);
    expect(await list(b, { starred: "true" })).toEqual([fromA.id]);
    expect(await list(b, { starred: "false" })).toEqual([own.id, fromC.id]);
    expect(await list(b, { unread: "true" })).toEqual([fromC.id]);
    expect(await list(b, { from: String(a.id) })).toEqual([fromA.id]);
    expect(await list(b, { to: String(a.id) })).toEqual([fromC.id]);
    expect(await list(b, { until: "2021-01-01" })).toEqual([fromC.id]);
    expect(await list(b, { since: "2021-01-01T00:00:00Z" })).toEqual([own.id, fromA.id]);
    expect(await list(b, { q: "quarterly" })).toEqual([fromA.id]);
    expect(await list(b, { has_attachments: "true" })).toEqual([own.id]);
    expect(await list(b, { limit: "1", before_id: String(own.id) })).toEqual([fromC.id]);
    // A time bound pages on the same cursor, which may lie beyond any id.
    expect(await list(b, { since: "2021-01-01", before_id: String(own.id) })).toEqual([fromA.id]);
    expect(await list(b, { since: "2021-01-01", limit: "1", before_id: String(2 ** 40) })).toEqual([own.id]);
    expect(await list(b, { until: "2021-01-01", before_id: String(fromC.id) })).toEqual([]);
  });

  it.each([
    [{ since: "yesterday" }, "since"],
    [{ until: "2024-13-45" }, "until"],
    [{ until: "2024-01-01", before_id: "0" }, "before_id"],
    [{ since: "2024-01-01", before_id: "x" }, "before_id"],
    [{ folder: "spam" }, "folder"],
    [{ from: String(2 ** 31) }, "from"],
    [{ to: "x" }, "to"],
    [{ starred: "maybe" }, "starred"],
  ])("422 naming the query field: %o", async (query, field) => {
    const b = await newUser();
    const res = await call(messagesList, { token: b.token, query });
    expect(res.status).toBe(422);
    expect(issue(res).loc).toEqual(["query", field]);
  });
});

describe("the trash sweep", () => {
  it("erases copies trashed longer than the retention, as DELETE would, and leaves newer ones", async () => {
    const [a, b] = [await newUser(), await newUser()];
    const old = await send(a, { to: [b.id] });
    const recent = await send(a, { to: [b.id] });
    await patch(b, old.id, { folder: "trash" });
    await patch(b, recent.id, { folder: "trash" });
    await patch(a, old.id, { folder: "trash" });
    await getPool().query("UPDATE message_copies SET trashed_at = now() - interval '31 days' WHERE message_id = $1", [old.id]);
    let erased = 0;
    for (let swept = await sweepTrash(30); swept.erased > 0; swept = await sweepTrash(30)) erased += swept.erased;
    expect(erased).toBe(2);
    expect(await view(b, old.id)).toBeNull();
    expect((await getPool().query("SELECT 1 FROM messages WHERE id = $1", [old.id])).rowCount).toBe(0);
    expect(await view(b, recent.id)).toMatchObject({ folder: "trash" });
    expect(await counts(b)).toEqual(await recount(b.id));
  });
});
