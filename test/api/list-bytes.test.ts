/**
 * Every list answer is bounded in bytes as well as in count (docs/reliability.md, Abuse: lists bounded in bytes): 120
 * messages of 100 000 × U+0001 (about 600 KB of JSON each) once made the recipient's default inbox
 * answer 69 MiB. Now each page stops before the next message would pass LIST_MAX_BYTES (default
 * 1 MiB), always holds one message, and its `Link` leads on until every message was seen. A quarter
 * of that attack (three threads of ten, about 18 MB of JSON) is already far past the bound and
 * shows the same; test/scale/list-bytes-scale.test.ts takes the 900-message one.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { messagesInbox } from "../../functions/messages-inbox";
import { messagesOutbox } from "../../functions/messages-outbox";
import { messagesSend } from "../../functions/messages-send";
import { messagesThread } from "../../functions/messages-thread";
import { usersList } from "../../functions/users-list";
import { resetConfig } from "../../shared/config/config";
import { useTestDatabase, type TestDatabase } from "../support/database";
import { call } from "../support/http";
import { nextQuery, walkPages } from "../support/paging";
import { newUser, type TestUser } from "../support/users";

const MIB = 1024 * 1024;
const ATTACK = 30;
const HUGE_BODY = "\u0001".repeat(100_000);

let db: TestDatabase;
let attacker: TestUser;
let victim: TestUser;
const sentIds: number[] = [];

beforeAll(async () => {
  delete process.env.LIST_MAX_BYTES; // the production bound
  resetConfig();
  db = await useTestDatabase();
  [attacker, victim] = [await newUser("attacker"), await newUser("victim")];
  for (let i = 0; i < ATTACK; i++) {
    // Every tenth starts a thread; the others reply to the thread of the one before.
    const json = { recipient_id: victim.id, title: `attack ${i}`, body: HUGE_BODY, in_reply_to: i % 10 === 0 ? null : sentIds[i - 1] };
    const res = await call(messagesSend, { method: "POST", token: attacker.token, json });
    expect(res.status, res.text).toBe(200);
    sentIds.push((res.body as { id: number }).id);
  }
}, 120_000);
afterAll(async () => {
  await db.close();
});

type Msg = { id: number; body: string };
const newestFirst = () => [...sentIds].reverse();

describe(`the ${ATTACK}-message attack`, () => {
  it("the default inbox answers 200 within the byte bound, and links on", async () => {
    const res = await call(messagesInbox, { token: victim.token });
    expect(res.status).toBe(200);
    expect(Buffer.byteLength(res.text)).toBeLessThanOrEqual(MIB);
    expect((res.body as Msg[]).length).toBeGreaterThanOrEqual(1);
    expect((res.body as Msg[])[0].body).toBe(HUGE_BODY);
    expect(nextQuery(res)).toMatchObject({ before_id: String((res.body as Msg[]).at(-1)?.id), limit: "1000" });
  });

  // A page holds one such message (two would pass 1 MiB): each chain is as long as the attack.
  it.each([
    ["inbox", () => ({ handler: messagesInbox, token: victim.token, query: {} })],
    ["outbox", () => ({ handler: messagesOutbox, token: attacker.token, query: {} })],
  ] as const)(
    "the Link chain of the %s reaches every message exactly once, each page within the bound",
    async (_name, list) => {
      const { handler, token, query } = list();
      const walk = await walkPages<Msg>(handler, { token, query });
      expect(walk.items.map((m) => m.id)).toEqual(newestFirst());
      expect(Math.max(...walk.pageBytes)).toBeLessThanOrEqual(MIB);
    },
    60_000,
  );

  // Only the first pages: a search rechecks each huge text it passes (seconds a page here).
  it("a search is bounded the same way, its next link keeping q and the filters", async () => {
    const walk = await walkPages<Msg>(messagesInbox, { token: victim.token, query: { q: "attack", unread: "true" } }, 2);
    expect(walk.items.map((m) => m.id)).toEqual(newestFirst().slice(0, walk.items.length));
    expect(Math.max(...walk.pageBytes)).toBeLessThanOrEqual(MIB);
    const first = await call(messagesInbox, { token: victim.token, query: { q: "attack", unread: "true" } });
    expect(nextQuery(first)).toEqual({ q: "attack", unread: "true", before_id: String(sentIds.at(-1)), limit: "1000" });
  }, 60_000);

  it("a thread is paged oldest first with after_id, each page within the bound", async () => {
    const walk = await walkPages<Msg>(messagesThread, { token: victim.token, params: { message_id: String(sentIds[15]) } });
    expect(walk.items.map((m) => m.id)).toEqual(sentIds.slice(10, 20));
    expect(walk.pageBytes.length).toBeGreaterThan(1);
    expect(Math.max(...walk.pageBytes)).toBeLessThanOrEqual(MIB);
  });

  it("a count limit still pages as before, the next link keeping the other parameters", async () => {
    const res = await call(messagesInbox, { token: victim.token, query: { limit: "1", q: "attack" } });
    expect(res.status).toBe(200);
    expect(nextQuery(res)).toEqual({ limit: "1", q: "attack", before_id: String(sentIds.at(-1)) });
  });
});

describe("the users list", () => {
  it("is bounded in bytes too, and links on with skip", async () => {
    const others: TestUser[] = [];
    for (let i = 0; i < 30; i++) others.push(await newUser("listed_with_a_rather_long_name"));
    process.env.LIST_MAX_BYTES = "1024"; // usernames are short: only a small bound shows the cut
    resetConfig();
    try {
      const walk = await walkPages<{ id: number }>(usersList, { token: victim.token, query: { q: "listed" } });
      expect(walk.items.map((u) => u.id).sort((a, b) => a - b)).toEqual(others.map((u) => u.id).sort((a, b) => a - b));
      expect(walk.pageBytes.length).toBeGreaterThan(1);
      expect(Math.max(...walk.pageBytes)).toBeLessThanOrEqual(1024);
    } finally {
      delete process.env.LIST_MAX_BYTES;
      resetConfig();
    }
  });
});

describe("a message whose text alone passes the bound", () => {
  // Its text is read as the first row of its page; the row after it must be read too, or nothing
  // would show the page cut and its Link would be missing: paging stopped at such a message.
  it("ends its page, and the Link leads on to the older messages", async () => {
    const [writer, reader] = [await newUser("writer"), await newUser("reader")];
    const sent: number[] = [];
    for (const body of ["small, oldest", "small", "x".repeat(5000)]) {
      const res = await call(messagesSend, { method: "POST", token: writer.token, json: { to: [reader.id], title: "bound", body } });
      expect(res.status, res.text).toBe(200);
      sent.push((res.body as { id: number }).id);
    }
    process.env.LIST_MAX_BYTES = "4096";
    resetConfig();
    try {
      const walk = await walkPages<Msg>(messagesInbox, { token: reader.token });
      expect(walk.items.map((m) => m.id)).toEqual([...sent].reverse());
      expect(walk.pageBytes.length).toBeGreaterThan(1);
    } finally {
      delete process.env.LIST_MAX_BYTES;
      resetConfig();
    }
  });
});
