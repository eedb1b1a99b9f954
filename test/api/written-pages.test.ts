/**
 * The list endpoints send the page the database wrote (pageJsonSql): each message's JSON made by
 * PostgreSQL, never parsed into rows by the app. That text must be the very answer the rows made,
 * JSON.stringify of the same page, byte for byte, for every kind of message a viewer can see (one
 * recipient and several; cc, bcc, a deleted addressee, a receipt, a reply, files, text that JSON
 * escapes), and its cut at the byte bound must be the one boundedList makes of those rows.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { messagesMarkRead } from "../../functions/messages-mark-read";
import { messagesSend } from "../../functions/messages-send";
import { messagesThread } from "../../functions/messages-thread";
import { getPool } from "../../shared/data/db";
import { readThreadPage } from "../../shared/data/mailbox";
import { MESSAGE_FIELD_NAMES } from "../../shared/data/message-view";
import { listMessages, preparedListQuery, readListPage, type ListFilters, type PageRow, type PageText } from "../../shared/data/messages";
import type { MessageT } from "../../shared/domain/schemas";
import { boundedList, boundedWrittenPage } from "../../shared/http/paging";
import { useTestDatabase, type TestDatabase } from "../support/database";
import { call } from "../support/http";
import { newUser, type TestUser } from "../support/users";

// Everything JSON escapes or might: quotes, backslashes, control characters, a line separator,
// an astral character (two UTF-16 units, four UTF-8 bytes), accents, and HTML.
const TRICKY = 'say "hi" \\ back\\slash \u0001\u001f\b\f\n\r\t é 😀 \u2028\u2029 </script> \u007f';
const ROOMY = 1 << 20;

let db: TestDatabase;
let alice: TestUser, bob: TestUser, carol: TestUser, dave: TestUser, erin: TestUser;
let first: number;

async function send(from: TestUser, json: Record<string, unknown>): Promise<number> {
  const res = await call(messagesSend, { method: "POST", token: from.token, json });
  expect(res.status, res.text).toBe(200);
  return (res.body as { id: number }).id;
}

beforeAll(async () => {
  db = await useTestDatabase();
  [alice, bob, carol, dave, erin] = [
    await newUser("alice"),
    await newUser("bob"),
    await newUser("carol"),
    await newUser("dave"),
    await newUser("erin"),
  ];
  first = await send(alice, { to: [bob.id, carol.id], cc: [erin.id], bcc: [dave.id], title: TRICKY, body: `${TRICKY}\n${TRICKY}` });
  await send(bob, { to: [alice.id], title: "Re: tricky", body: "a reply", in_reply_to: first });
  const withFiles = await send(alice, { to: [bob.id], title: "files", body: "two files" });
  await send(carol, { recipient_id: alice.id, title: "the original's shape", body: "one recipient_id" });
  await send(carol, { to: [alice.id], title: "a long one", body: "lorem ipsum dolor sit amet ".repeat(400) });
  // A receipt for alice's view, a deleted addressee's name, and files (rows as a send writes them).
  expect((await call(messagesMarkRead, { method: "POST", token: carol.token, params: { message_id: String(first) } })).status).toBe(200);
  await getPool().query("UPDATE users SET deleted_at = now() WHERE id = $1", [erin.id]);
  await getPool().query(
    `INSERT INTO attachments (id, owner_id, blob_name, filename, content_type, size, message_id, position)
     VALUES (gen_random_uuid(), $1, 'blob-a', $3, 'application/pdf', 1234, $2, 0),
            (gen_random_uuid(), $1, 'blob-b', 'b.png', 'image/png', 25000000, $2, 1)`,
    [alice.id, withFiles, `report ${TRICKY}.pdf`],
  );
  await getPool().query("UPDATE messages SET attachment_count = 2 WHERE id = $1", [withFiles]);
  await getPool().query("UPDATE message_copies SET has_attachments = true WHERE message_id = $1", [withFiles]);
}, 60_000);

afterAll(async () => {
  await db.close();
});

const viewers = () => ({ alice, bob, carol, dave });
const LISTS: [string, ListFilters][] = [
  ["every folder but trash", {}],
  ["inbox", { folder: "inbox" }],
  ["sent", { folder: "sent" }],
  ["from alice", { from: 0 }],
];

/** A page's rows as pageJsonSql reads them, and where a row holds the title of a message the database did not write. */
const readRows = async (userId: number, filters: ListFilters, maxBytes: number) =>
  (await getPool().query<PageRow>({ ...preparedListQuery(userId, filters, { limit: 50, maxBytes }, "json"), rowMode: "array" })).rows;
const TITLE = MESSAGE_FIELD_NAMES.indexOf("title") + 1;

/** The filters, with `from` meaning alice's id. */
const filtersOf = (filters: ListFilters): ListFilters => (filters.from === undefined ? filters : { ...filters, from: alice.id });

describe("a page written by the database", () => {
  it.each(Object.keys(viewers()))("is the text JSON.stringify makes of its rows, for %s's every list", async (name) => {
    const viewer = viewers()[name as keyof ReturnType<typeof viewers>];
    for (const [list, filters] of LISTS) {
      const rows = await listMessages(viewer.id, filtersOf(filters), { limit: 50, maxBytes: ROOMY });
      const read = await readRows(viewer.id, filtersOf(filters), ROOMY);
      expect(read.every((row) => row[1] !== null && row[TITLE] === null)).toBe(true);
      const written = await readListPage(viewer.id, filtersOf(filters), { limit: 50, maxBytes: ROOMY });
      expect(written.body, list).toBe(JSON.stringify(rows));
      expect(written.ids, list).toEqual(rows.map((m) => m.id));
      expect(written.sizes, list).toEqual(rows.map((m) => Buffer.byteLength(JSON.stringify(m))));
    }
  });

  it("covers what it claims: receipts, bcc, a deleted addressee, files, escapes", async () => {
    const page = await readListPage(alice.id, {}, { limit: 50, maxBytes: ROOMY });
    const sent = (JSON.parse(page.body) as MessageT[]).find((m) => m.id === first)!;
    expect(sent.title).toBe(TRICKY);
    expect(sent.read_by.map((r) => r.id)).toEqual([carol.id]);
    expect(sent.bcc).toEqual([{ id: dave.id, username: dave.username }]);
    expect(sent.cc).toEqual([{ id: erin.id, username: "deleted user" }]);
    expect(page.body).toContain('"attachments":[{"id":"');
  });

  it("is the same page for a thread, oldest first", async () => {
    const thread = (await readThreadPage(first, alice.id, { limit: 50, maxBytes: ROOMY }))!;
    const rows = (await listMessages(alice.id, {}, { limit: 50, maxBytes: ROOMY })).filter((m) => m.thread_id === first).reverse();
    expect(thread.body).toBe(JSON.stringify(rows));
    const res = await call(messagesThread, { token: alice.token, params: { message_id: String(first) } });
    expect(res.text).toBe(thread.body);
  });

  it("is cut at the byte bound exactly where boundedList cuts the rows, multi-byte text included", async () => {
    const rows = await listMessages(bob.id, {}, { limit: 50, maxBytes: ROOMY });
    const written: PageText = await readListPage(bob.id, {}, { limit: 50, maxBytes: ROOMY });
    expect(rows.length).toBeGreaterThanOrEqual(3);
    // Every bound around each message's end: the one that just holds it, a byte less, a byte more.
    let end = 1;
    const bounds: number[] = [1, 2];
    for (const row of rows) {
      end += Buffer.byteLength(JSON.stringify(row)) + 1;
      bounds.push(end - 1, end, end + 1);
    }
    for (const maxBytes of bounds) {
      const expected = boundedList(rows, maxBytes);
      const cut = boundedWrittenPage(written, maxBytes);
      expect(cut.body, `bound ${maxBytes}`).toBe(expected.body);
      expect(cut.cut, `bound ${maxBytes}`).toBe(expected.cut);
      expect(cut.lastId, `bound ${maxBytes}`).toBe(expected.kept.at(-1)?.id);
      expect(Buffer.byteLength(cut.body) <= maxBytes || expected.kept.length === 1).toBe(true);
    }
  });

  // The page's text, six times over, passes a bound its JSON fits in: the database does not write
  // its messages, and the answer is the same text written from the fields it sends instead.
  it("is not written by the database when its text could pass the bound, and written the same from its fields", async () => {
    const rows = await listMessages(alice.id, {}, { limit: 50, maxBytes: ROOMY });
    const text = JSON.stringify(rows);
    const maxBytes = Buffer.byteLength(text);
    const texts = rows.reduce((sum, m) => sum + Buffer.byteLength(m.title) + Buffer.byteLength(m.body), 0);
    expect(texts * 6).toBeGreaterThan(maxBytes);
    const declined = await readRows(alice.id, {}, maxBytes);
    expect(declined.map((row) => [row[1], row[TITLE]])).toEqual(rows.map((m) => [null, m.title]));
    const answer = await readListPage(alice.id, {}, { limit: 50, maxBytes });
    expect(answer.body).toBe(text);
    expect(answer.ids).toEqual(rows.map((m) => m.id));
    expect(answer.sizes).toEqual(rows.map((m) => Buffer.byteLength(JSON.stringify(m))));
    // Past the bound the rows are written only up to the one that passes it, which the cut leaves out.
    for (const tight of [10, answer.sizes[0] + 3]) {
      const cutShort = await readListPage(alice.id, {}, { limit: 50, maxBytes: tight });
      expect(cutShort.ids).toEqual(rows.slice(0, 2).map((m) => m.id));
      expect(boundedWrittenPage(cutShort, tight)).toEqual({ body: `[${JSON.stringify(rows[0])}]`, lastId: rows[0].id, cut: true });
    }
    const thread = (await readThreadPage(first, alice.id, { limit: 50, maxBytes: 1024 }))!;
    expect(thread.body).toBe(JSON.stringify(rows.filter((m) => m.thread_id === first).reverse()));
  });

  it("is an empty array, with no last id, for an empty list", async () => {
    const written = await readListPage(dave.id, { folder: "archive" }, { limit: 50, maxBytes: ROOMY });
    expect(written).toEqual({ body: "[]", ids: [], sizes: [] });
    expect(boundedWrittenPage(written, ROOMY)).toEqual({ body: "[]", lastId: undefined, cut: false });
  });
});
