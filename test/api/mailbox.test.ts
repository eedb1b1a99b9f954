/** The mailbox operations, handler by handler, against a real database. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { messagesDelete } from "../../functions/messages-delete";
import { messagesInbox } from "../../functions/messages-inbox";
import { messagesMarkAllRead } from "../../functions/messages-mark-all-read";
import { messagesMarkRead } from "../../functions/messages-mark-read";
import { messagesMarkUnread } from "../../functions/messages-mark-unread";
import { messagesOutbox } from "../../functions/messages-outbox";
import { messagesSend } from "../../functions/messages-send";
import { messagesThread } from "../../functions/messages-thread";
import { messagesUnreadCount } from "../../functions/messages-unread-count";
import { messagesView } from "../../functions/messages-view";
import { getPool } from "../../shared/data/db";
import { useTestDatabase, type TestDatabase } from "../support/database";
import { call, type CallResult } from "../support/http";
import { newUser, type TestUser } from "../support/users";

let db: TestDatabase;
beforeAll(async () => {
  db = await useTestDatabase();
});
afterAll(async () => {
  await db.close();
});

type Msg = {
  id: number;
  title: string;
  body: string;
  is_read: boolean;
  in_reply_to: number | null;
  thread_id: number;
  sender_id: number;
  recipient_id: number;
};

const sendRaw = (from: TestUser, json: Record<string, unknown>) => call(messagesSend, { method: "POST", token: from.token, json });
async function send(from: TestUser, to: TestUser, title: string, extra: Record<string, unknown> = {}): Promise<Msg> {
  const res = await sendRaw(from, { recipient_id: to.id, title, body: `body of ${title}`, ...extra });
  expect(res.status, res.text).toBe(200);
  return res.body as Msg;
}
const byId = (handler: Parameters<typeof call>[0], method: string) => (user: TestUser, id: number | string) =>
  call(handler, { method, token: user.token, params: { message_id: String(id) } });
const view = byId(messagesView, "GET");
const unread = byId(messagesMarkUnread, "PUT");
const read = byId(messagesMarkRead, "PUT");
const remove = byId(messagesDelete, "DELETE");
const thread = byId(messagesThread, "GET");
const markAll = (user: TestUser, query: Record<string, string> = {}) =>
  call(messagesMarkAllRead, { method: "PUT", token: user.token, query });
const count = async (user: TestUser) =>
  ((await call(messagesUnreadCount, { token: user.token })).body as { unread_count: number }).unread_count;
const list = async (handler: typeof messagesInbox, user: TestUser, query: Record<string, string> = {}) => {
  const res = await call(handler, { token: user.token, query });
  expect(res.status, res.text).toBe(200);
  return res.body as Msg[];
};
const rowExists = async (id: number) => (await getPool().query("SELECT 1 FROM messages WHERE id = $1", [id])).rowCount === 1;

const NOT_FOUND = { detail: "Message not found" };
const expect404 = (res: CallResult) => {
  expect(res.status, res.text).toBe(404);
  expect(res.body).toEqual(NOT_FOUND);
};
const expect422 = (res: CallResult, loc: unknown[]) => {
  expect(res.status, res.text).toBe(422);
  expect((res.body as { detail: { loc: unknown[] }[] }).detail[0].loc).toEqual(loc);
};

describe("GET /messages/{message_id}", () => {
  it("answers its sender and its recipient with the message object", async () => {
    const [a, b] = [await newUser("va"), await newUser("vb")];
    const sent = await send(a, b, "open me");
    // The same message, each side seeing its own copy's folder.
    expect((await view(a, sent.id)).body).toEqual(sent);
    const received = await view(b, sent.id);
    expect(received.status).toBe(200);
    expect(received.body).toEqual({ ...sent, folder: "inbox", copy: "received" });
    expect(sent).toMatchObject({ in_reply_to: null, thread_id: sent.id });
  });

  it("404 for a missing message, someone else's, or one this user deleted; 422 for a non-integer id", async () => {
    const [a, b, c] = [await newUser(), await newUser(), await newUser()];
    const sent = await send(a, b, "private");
    expect404(await view(c, sent.id));
    expect404(await view(a, 99_999_999));
    expect404(await view(a, 2 ** 40));
    expect404(await view(a, -1));
    expect((await remove(b, sent.id)).status).toBe(204);
    expect404(await view(b, sent.id));
    expect((await view(a, sent.id)).status).toBe(200);
    expect422(await view(a, "abc"), ["path", "message_id"]);
    expect((await call(messagesView, { params: { message_id: String(sent.id) } })).status).toBe(401);
  });
});

describe("PUT /messages/{message_id}/unread", () => {
  it("marks a read message unread again, idempotently, with the count exact after each step", async () => {
    const [a, b] = [await newUser(), await newUser()];
    const m = await send(a, b, "again");
    expect(await count(b)).toBe(1);
    await read(b, m.id);
    expect(await count(b)).toBe(0);
    for (let i = 0; i < 2; i++) {
      const res = await unread(b, m.id);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ message: "Mensagem marcada como não lida" });
      expect(await count(b)).toBe(1);
    }
    const { rows } = await getPool().query("SELECT is_read, read_at FROM message_copies WHERE message_id = $1 AND received", [m.id]);
    expect(rows[0]).toEqual({ is_read: false, read_at: null });
    expect((await view(b, m.id)).body).toMatchObject({ is_read: false });
  });

  it("404 for the sender, a stranger, a missing or a deleted message; 422 for a non-integer id", async () => {
    const [a, b, c] = [await newUser(), await newUser(), await newUser()];
    const m = await send(a, b, "mine");
    await read(b, m.id);
    expect404(await unread(a, m.id));
    expect404(await unread(c, m.id));
    expect404(await unread(b, 99_999_999));
    await remove(b, m.id);
    expect404(await unread(b, m.id));
    expect404(await read(b, m.id));
    expect422(await unread(b, "x"), ["path", "message_id"]);
    expect(await count(b)).toBe(0);
  });
});

describe("PUT /messages/inbox/read", () => {
  it("marks every unread received message read and says how many", async () => {
    const [a, b, c] = [await newUser(), await newUser(), await newUser()];
    for (const t of ["1", "2", "3"]) await send(a, b, t);
    await send(c, b, "4");
    const other = await send(b, a, "not b's inbox");
    expect(await count(b)).toBe(4);
    const res = await markAll(b);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ marked: 4 });
    expect(await count(b)).toBe(0);
    expect((await list(messagesInbox, b)).every((m) => m.is_read)).toBe(true);
    expect((await view(a, other.id)).body).toMatchObject({ is_read: false });
    expect((await markAll(b)).body).toEqual({ marked: 0 });
  });

  it("with up_to_id, leaves newer messages unread", async () => {
    const [a, b] = [await newUser(), await newUser()];
    const seen = [await send(a, b, "seen 1"), await send(a, b, "seen 2")];
    const later = await send(a, b, "arrived after the click");
    expect((await markAll(b, { up_to_id: String(seen[1].id) })).body).toEqual({ marked: 2 });
    expect(await count(b)).toBe(1);
    expect((await view(b, later.id)).body).toMatchObject({ is_read: false });
    expect((await markAll(b, { up_to_id: String(seen[1].id) })).body).toEqual({ marked: 0 });
  });

  it("skips messages the recipient deleted and counts them nowhere", async () => {
    const [a, b] = [await newUser(), await newUser()];
    const gone = await send(a, b, "deleted unread");
    await send(a, b, "kept");
    await remove(b, gone.id);
    expect(await count(b)).toBe(1);
    expect((await markAll(b)).body).toEqual({ marked: 1 });
    expect((await view(a, gone.id)).body).toMatchObject({ is_read: false });
  });

  it("422 for a bad up_to_id, 401 without a token", async () => {
    const b = await newUser();
    for (const up_to_id of ["x", "0", "1.5"]) expect422(await markAll(b, { up_to_id }), ["query", "up_to_id"]);
    expect((await call(messagesMarkAllRead, { method: "PUT" })).status).toBe(401);
  });
});

describe("DELETE /messages/{message_id}", () => {
  it("removes the message from one side only; the row goes when both sides deleted it", async () => {
    const [a, b] = [await newUser(), await newUser()];
    const m = await send(a, b, "both sides");
    const res = await remove(a, m.id);
    expect(res.status).toBe(204);
    expect(res.text).toBe("");
    expect((await list(messagesOutbox, a)).map((x) => x.id)).not.toContain(m.id);
    expect((await list(messagesInbox, b)).map((x) => x.id)).toContain(m.id);
    expect((await view(b, m.id)).status).toBe(200);
    expect(await rowExists(m.id)).toBe(true);
    expect404(await remove(a, m.id));
    expect((await remove(b, m.id)).status).toBe(204);
    expect(await rowExists(m.id)).toBe(false);
    expect404(await remove(b, m.id));
  });

  it("lowers the unread count when an unread received message goes, and only then", async () => {
    const [a, b] = [await newUser(), await newUser()];
    const [m1, m2, m3] = [await send(a, b, "1"), await send(a, b, "2"), await send(a, b, "3")];
    await read(b, m2.id);
    expect(await count(b)).toBe(2);
    await remove(b, m1.id);
    expect(await count(b)).toBe(1);
    await remove(b, m2.id);
    expect(await count(b)).toBe(1);
    // The sender deleting first, then the recipient: the count drops once.
    await remove(a, m3.id);
    expect(await count(b)).toBe(1);
    await remove(b, m3.id);
    expect(await count(b)).toBe(0);
    expect(await rowExists(m3.id)).toBe(false);
  });

  it("a message to oneself leaves at once", async () => {
    const a = await newUser();
    const m = await send(a, a, "note to self");
    expect(await count(a)).toBe(1);
    expect((await remove(a, m.id)).status).toBe(204);
    expect(await rowExists(m.id)).toBe(false);
    expect(await count(a)).toBe(0);
  });

  it("404 for a stranger or a missing message; 422 for a non-integer id", async () => {
    const [a, b, c] = [await newUser(), await newUser(), await newUser()];
    const m = await send(a, b, "not yours");
    expect404(await remove(c, m.id));
    expect404(await remove(c, 99_999_999));
    expect422(await remove(c, "inbox"), ["path", "message_id"]);
    expect(await rowExists(m.id)).toBe(true);
  });
});

describe("replies and threads", () => {
  it("a reply joins the thread of the message it answers, sent or received", async () => {
    const [a, b] = [await newUser(), await newUser()];
    const root = await send(a, b, "root");
    const r1 = await send(b, a, "re: root", { in_reply_to: root.id });
    expect(r1).toMatchObject({ in_reply_to: root.id, thread_id: root.id });
    const r2 = await send(a, b, "re: re: root", { in_reply_to: String(r1.id) });
    expect(r2).toMatchObject({ in_reply_to: r1.id, thread_id: root.id });
    // Replying to one's own sent message is allowed too.
    const r3 = await send(a, b, "follow-up", { in_reply_to: root.id });
    expect(r3.thread_id).toBe(root.id);
    const other = await send(a, b, "another conversation", { in_reply_to: null });
    expect(other.thread_id).toBe(other.id);
    for (const user of [a, b]) {
      const res = await thread(user, r2.id);
      expect(res.status).toBe(200);
      expect((res.body as Msg[]).map((m) => m.title)).toEqual(["root", "re: root", "re: re: root", "follow-up"]);
    }
    expect((await view(b, r1.id)).body).toEqual(r1);
  });

  it("404 when in_reply_to is not in the sender's mailbox; 422 when it is not an integer", async () => {
    const [a, b, c] = [await newUser(), await newUser(), await newUser()];
    const m = await send(a, b, "between a and b");
    for (const in_reply_to of [m.id, 99_999_999, 2 ** 40]) {
      const res = await sendRaw(c, { recipient_id: a.id, title: "t", body: "b", in_reply_to });
      expect404(res);
    }
    await remove(b, m.id);
    expect404(await sendRaw(b, { recipient_id: a.id, title: "t", body: "b", in_reply_to: m.id }));
    expect422(await sendRaw(a, { recipient_id: b.id, title: "t", body: "b", in_reply_to: "first" }), ["body", "in_reply_to"]);
    expect(await count(a)).toBe(0);
  });

  it("shows each user only what they can see, across deletes", async () => {
    const [a, b, c] = [await newUser(), await newUser(), await newUser()];
    const root = await send(a, b, "root");
    const r1 = await send(b, a, "r1", { in_reply_to: root.id });
    const forward = await send(b, c, "to carol", { in_reply_to: r1.id });
    const titles = async (user: TestUser, id: number) => ((await thread(user, id)).body as Msg[]).map((m) => m.title);
    expect(await titles(b, root.id)).toEqual(["root", "r1", "to carol"]);
    expect(await titles(a, root.id)).toEqual(["root", "r1"]);
    expect(await titles(c, forward.id)).toEqual(["to carol"]);
    expect404(await thread(c, root.id));
    // a deletes the root: a's thread goes on without it, b's keeps it.
    await remove(a, root.id);
    expect(await titles(a, r1.id)).toEqual(["r1"]);
    expect404(await thread(a, root.id));
    expect(await titles(b, r1.id)).toEqual(["root", "r1", "to carol"]);
    // b deletes it too: the row is gone, the replies still name it and still form a thread.
    await remove(b, root.id);
    expect(await rowExists(root.id)).toBe(false);
    expect(await titles(b, forward.id)).toEqual(["r1", "to carol"]);
    expect((await view(b, r1.id)).body).toMatchObject({ in_reply_to: root.id, thread_id: root.id });
    const late = await send(a, b, "late reply", { in_reply_to: r1.id });
    expect(late.thread_id).toBe(root.id);
    expect(await titles(b, late.id)).toEqual(["r1", "to carol", "late reply"]);
    expect422(await thread(b, "x"), ["path", "message_id"]);
  });
});

describe("search", () => {
  let a: TestUser, b: TestUser;
  beforeAll(async () => {
    [a, b] = [await newUser("sa"), await newUser("sb")];
    await send(a, b, "Relatório anual", { body: "Não há pendências no CAFÉ da manhã" });
    await send(a, b, "Reunião", { body: "Straße und Ærø: ﬁnal notes" });
    await send(a, b, "Lunch", { body: "nao esqueca o cafe" });
    await send(b, a, "Résumé", { body: "see attached relatorio" });
  });
  const titles = async (handler: typeof messagesInbox, user: TestUser, query: Record<string, string>) =>
    (await list(handler, user, query)).map((m) => m.title);

  it("ignores case and accents both ways, and needs every word", async () => {
    expect(await titles(messagesInbox, b, { q: "nao" })).toEqual(["Lunch", "Relatório anual"]);
    expect(await titles(messagesInbox, b, { q: "NÃO CAFÉ" })).toEqual(["Lunch", "Relatório anual"]);
    expect(await titles(messagesInbox, b, { q: "cafe manha" })).toEqual(["Relatório anual"]);
    expect(await titles(messagesInbox, b, { q: "cafe lunch" })).toEqual(["Lunch"]);
    expect(await titles(messagesInbox, b, { q: "cafe pizza" })).toEqual([]);
    expect(await titles(messagesInbox, b, { q: "relat" })).toEqual(["Relatório anual"]);
    expect(await titles(messagesInbox, b, { q: "strasse aero final" })).toEqual(["Reunião"]);
    expect(await titles(messagesInbox, b, { q: "reuniao," })).toEqual(["Reunião"]);
  });

  it("searches the outbox too, and only the user's own side", async () => {
    expect(await titles(messagesOutbox, b, { q: "resume relatorio" })).toEqual(["Résumé"]);
    expect(await titles(messagesInbox, a, { q: "relatorio" })).toEqual(["Résumé"]);
    expect(await titles(messagesOutbox, a, { q: "relatorio" })).toEqual(["Relatório anual"]);
    expect(await titles(messagesInbox, a, { q: "cafe" })).toEqual([]);
  });

  it("combines with unread and paging; a blank q filters nothing; a huge q is a 422", async () => {
    const lunch = (await list(messagesInbox, b, { q: "lunch" }))[0];
    await read(b, lunch.id);
    expect(await titles(messagesInbox, b, { q: "cafe", unread: "true" })).toEqual(["Relatório anual"]);
    expect(await titles(messagesInbox, b, { q: "cafe", limit: "1" })).toEqual(["Lunch"]);
    expect(await titles(messagesInbox, b, { q: "cafe", before_id: String(lunch.id) })).toEqual(["Relatório anual"]);
    expect(await titles(messagesInbox, b, { q: "   " })).toHaveLength(3);
    expect(await titles(messagesInbox, b, { q: "!!" })).toHaveLength(3);
    expect422(await call(messagesInbox, { token: b.token, query: { q: "x".repeat(501) } }), ["query", "q"]);
  });

  it("leaves out what the user deleted", async () => {
    const gone = (await list(messagesInbox, b, { q: "reuniao" }))[0];
    await remove(b, gone.id);
    expect(await titles(messagesInbox, b, { q: "reuniao" })).toEqual([]);
  });
});

describe("paging through Link", () => {
  it("a full page links to the next with the other parameters kept; the last page has no link", async () => {
    const [a, b] = [await newUser(), await newUser()];
    for (let i = 1; i <= 5; i++) await send(a, b, `page ${i}`, { body: "needle" });
    await send(a, b, "other", { body: "hay" });
    let query: Record<string, string> = { q: "needle", unread: "true", limit: "2" };
    const seen: string[] = [];
    const links: string[] = [];
    for (;;) {
      const res = await call(messagesInbox, { token: b.token, query });
      seen.push(...(res.body as Msg[]).map((m) => m.title));
      const link = res.headers.get("link");
      if (!link) break;
      links.push(link);
      expect(res.headers.get("access-control-expose-headers")).toBe("Link");
      const next = /^<([^>]+)>; rel="next"$/.exec(link);
      expect(next).not.toBeNull();
      query = Object.fromEntries(new URL(next![1]).searchParams);
      expect(query).toMatchObject({ q: "needle", unread: "true", limit: "2", before_id: expect.stringMatching(/^\d+$/) });
    }
    expect(seen).toEqual(["page 5", "page 4", "page 3", "page 2", "page 1"]);
    expect(links).toHaveLength(2);
    // A page that is exactly full links on, to an empty page without a link.
    const exact = await call(messagesOutbox, { token: a.token, query: { limit: "6" } });
    const next = new URL(/^<([^>]+)>/.exec(exact.headers.get("link")!)![1]);
    expect(next.searchParams.get("limit")).toBe("6");
    const after = await call(messagesOutbox, { token: a.token, query: Object.fromEntries(next.searchParams) });
    expect(after.body).toEqual([]);
    expect(after.headers.get("link")).toBeNull();
    // The default limit appears in the link even when the request named none.
    expect((await call(messagesOutbox, { token: a.token })).headers.get("link")).toBeNull();
  });
});
