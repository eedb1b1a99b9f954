/**
 * The per-user event log (a transactional outbox) and the catch-up endpoint, handler by handler
 * against a real database: every change logs its events with the user's next seq in its own
 * transaction, in commit order, and GET /events returns them exactly as they were pushed.
 */
import { InvocationContext } from "@azure/functions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { eventsList } from "../../functions/events-list";
import { eventsSweep } from "../../functions/events-sweep";
import { messagesDelete } from "../../functions/messages-delete";
import { messagesMarkAllRead } from "../../functions/messages-mark-all-read";
import { messagesMarkRead } from "../../functions/messages-mark-read";
import { messagesMarkUnread } from "../../functions/messages-mark-unread";
import { messagesSend } from "../../functions/messages-send";
import { getPool, inTransaction } from "../../shared/data/db";
import { logEvents, sweepEvents } from "../../shared/data/event-log";
import { sendMessage } from "../../shared/data/messages";
import { messageDeletedEvent, unreadCountUpdatedEvent, type Frame } from "../../shared/domain/events";
import { useTestDatabase, type TestDatabase } from "../support/database";
import { call } from "../support/http";
import { holdLocks, raceBehindLocks } from "../support/lock-barrier";
import { newUser, type TestUser } from "../support/users";

let db: TestDatabase;
beforeAll(async () => {
  db = await useTestDatabase();
});
afterAll(async () => {
  await db.close();
});

type Page = { events: Frame[]; latest_seq: number };

async function send(from: TestUser, to: TestUser, title = "hello"): Promise<{ id: number }> {
  const res = await call(messagesSend, { method: "POST", token: from.token, json: { recipient_id: to.id, title, body: "b" } });
  expect(res.status, res.text).toBe(200);
  return res.body as { id: number };
}
/** A send through the data layer (no HTTP round), for tests that make many. */
async function sendTo(from: TestUser, to: TestUser): Promise<{ id: number }> {
  const sent = await sendMessage(from.id, { recipient_id: to.id, title: "t", body: "b" });
  if (sent.kind !== "sent") throw new Error(sent.kind);
  return sent.message;
}
const act = (handler: typeof messagesMarkRead, method: string) => async (user: TestUser, id: number) => {
  const res = await call(handler, { method, token: user.token, params: { message_id: String(id) } });
  expect(res.status, res.text).toBeLessThan(300);
};
const read = act(messagesMarkRead, "PUT");
const unread = act(messagesMarkUnread, "PUT");
const remove = act(messagesDelete, "DELETE");
const events = (user: TestUser, query: Record<string, string> = {}) => call(eventsList, { token: user.token, query });

async function allEvents(user: TestUser, after = 0): Promise<Page> {
  const res = await events(user, { after: String(after), limit: "1000" });
  expect(res.status, res.text).toBe(200);
  return res.body as Page;
}
const seqs = (frames: Frame[]) => frames.map((f) => f.seq);
const upTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

describe("the event log", () => {
  it("numbers each user's events from 1, one more per event, for every change that emits one", async () => {
    const alice = await newUser("log_alice");
    const bob = await newUser("log_bob");
    expect(await allEvents(bob)).toEqual({ events: [], latest_seq: 0 });

    const first = await send(alice, bob, "first");
    await read(bob, first.id);
    await unread(bob, first.id);
    await remove(bob, first.id);
    const second = await send(alice, bob, "second");
    await send(alice, bob, "third");
    const all = await call(messagesMarkAllRead, { method: "PUT", token: bob.token, query: { up_to_id: String(second.id) } });
    expect(all.body).toEqual({ marked: 1 });

    const bobs = await allEvents(bob);
    expect(bobs.events.map((f) => [f.seq, f.event])).toEqual([
      [1, "new_message"],
      [2, "unread_count_updated"],
      [3, "message_updated"],
      [4, "unread_count_updated"],
      [5, "message_updated"],
      [6, "message_deleted"],
      [7, "unread_count_updated"],
      [8, "new_message"],
      [9, "new_message"],
      [10, "unread_count_updated"],
    ]);
    expect(bobs.latest_seq).toBe(10);
    expect(bobs.events[9]).toEqual({ event: "unread_count_updated", unread_count: 1, seq: 10 });

    const alices = await allEvents(alice);
    expect(alices.events.map((f) => [f.seq, f.event])).toEqual([
      [1, "message_read"],
      [2, "messages_read"],
    ]);
    expect(alices.events[1]).toMatchObject({ message_ids: [second.id] });
  });

  it("keeps a frame's text intact whatever the message title holds", async () => {
    const [from, to] = [await newUser("log_text_from"), await newUser("log_text_to")];
    const title = '"unread_count":-1, say "hi", {braces} \\ back\\slash, NULL, \u00e9\u0301, \u2709\ufe0f, \ud83d\udce8';
    const sent = await sendMessage(from.id, { recipient_id: to.id, title, body: "b" });
    if (sent.kind !== "sent") throw new Error(sent.kind);
    const [logged] = (await allEvents(to)).events;
    expect(JSON.stringify(logged)).toBe(JSON.stringify(sent.frames[0].frame));
    expect((logged as { message?: { title: string } }).message?.title).toBe(title);
  });

  it("numbers concurrent changes to one user from 8 others 1..N in commit order: a reader never sees a later event first", async () => {
    const owner = await newUser("log_busy");
    const others = await Promise.all(Array.from({ length: 8 }, () => newUser("log_other")));
    const rounds = 8;
    const sentByOwner = async (to: TestUser) => {
      const ids: number[] = [];
      for (let i = 0; i < rounds; i++) ids.push((await sendTo(owner, to)).id);
      return ids;
    };
    const toRead = await Promise.all(others.map(sentByOwner));
    await sendTo(others[0], owner); // the owner's counter row, for the changes to queue behind

    // Each other user sends the owner mail (under the owner's mailbox counter) and reads the owner's (under its own),
    // so the owner's events come from changes no other lock orders: only the event counter's row lock numbers them.
    let racing = true;
    const reads: Page[] = [];
    const watch = (async () => {
      while (racing) reads.push(await allEvents(owner));
    })();
    await raceBehindLocks(db.url, `SELECT FROM user_event_counters WHERE user_id = ${owner.id} FOR UPDATE`, 4, () =>
      Promise.all(
        others.map(async (other, o) => {
          for (let i = 0; i < rounds; i++) await Promise.all([sendTo(other, owner), read(other, toRead[o][i])]);
        }),
      ),
    ).finally(() => (racing = false));
    await watch;

    const total = 1 + 2 * others.length * rounds;
    const page = await allEvents(owner);
    expect(page.latest_seq).toBe(total);
    expect(seqs(page.events)).toEqual(upTo(total));
    // Every read saw each event up to the latest seq: none was numbered before an earlier number's commit.
    for (const seen of reads) expect(seqs(seen.events)).toEqual(upTo(seen.latest_seq));
    // The unread count a send's frame carries is the one its commit made: the k-th committed send saw k unread.
    const counts = page.events.filter((f) => f.event === "new_message").map((f) => (f as { unread_count?: number }).unread_count);
    expect(counts).toEqual(upTo(1 + others.length * rounds));
  });

  it("makes a second change to the same user wait for the first's commit, then gives it the next seq", async () => {
    const user = await newUser("log_order");
    const client = await getPool().connect();
    try {
      await client.query("BEGIN");
      const [held] = await logEvents(client, [{ userId: user.id, event: unreadCountUpdatedEvent(1) }]);
      let later: number | undefined;
      const second = inTransaction((tx) => logEvents(tx, [{ userId: user.id, event: unreadCountUpdatedEvent(2) }])).then(
        ([f]) => (later = f.frame.seq),
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(later).toBeUndefined();
      await client.query("COMMIT");
      await second;
      expect([held.frame.seq, later]).toEqual([1, 2]);
    } finally {
      client.release();
    }
  });

  it("logs nothing for a change that rolls back", async () => {
    const user = await newUser("log_rollback");
    await expect(
      inTransaction(async (tx) => {
        await logEvents(tx, [{ userId: user.id, event: messageDeletedEvent(1) }]);
        throw new Error("the change failed");
      }),
    ).rejects.toThrow("the change failed");
    expect(await allEvents(user)).toEqual({ events: [], latest_seq: 0 });
    // A send to a missing recipient, and a replayed send, log nothing either.
    const recipient = await newUser("log_rb_to");
    expect((await sendMessage(user.id, { recipient_id: 2_000_000_000, title: "t", body: "b" })).kind).toBe("recipient_not_found");
    const once = { recipient_id: recipient.id, title: "once", body: "b" };
    expect((await sendMessage(user.id, once, { idempotencyKey: "k1" })).kind).toBe("sent");
    expect((await sendMessage(user.id, once, { idempotencyKey: "k1" })).kind).toBe("replayed");
    expect(seqs((await allEvents(recipient)).events)).toEqual([1]);
    expect(await allEvents(user)).toEqual({ events: [], latest_seq: 0 });
  });

  it("does not deadlock when two users read each other's mail at once (each change locks both counters)", async () => {
    const [a, b] = await Promise.all([newUser("log_dl_a"), newUser("log_dl_b")]);
    const toB = await Promise.all(Array.from({ length: 10 }, () => sendTo(a, b)));
    const toA = await Promise.all(Array.from({ length: 10 }, () => sendTo(b, a)));
    // The first read queues for the lower id's counter (which both must lock first), the second gets as far as it
    // can; on release the first locks its way on and meets the second's locks, in the same order or in a deadlock.
    const [low, high] = a.id < b.id ? [a, b] : [b, a];
    const held = await holdLocks(db.url, `SELECT FROM user_event_counters WHERE user_id = ${low.id} FOR UPDATE`);
    const lowReads = read(low, (low === a ? toA : toB)[0].id);
    await held.queued(1);
    const highReads = read(high, (high === a ? toA : toB)[0].id);
    await held.queued(2);
    await held.release();
    await Promise.all([lowReads, highReads]);
    await Promise.all([
      ...toB.slice(1).map((m) => read(b, m.id)),
      ...toA.slice(1).map((m) => read(a, m.id)),
      call(messagesMarkAllRead, { method: "PUT", token: a.token }),
      call(messagesMarkAllRead, { method: "PUT", token: b.token }),
    ]);
    for (const user of [a, b]) {
      const page = await allEvents(user);
      expect(seqs(page.events)).toEqual(upTo(page.latest_seq));
    }
  });
});

describe("GET /events", () => {
  let user: TestUser;
  beforeAll(async () => {
    user = await newUser("ev_pages");
    const sender = await newUser("ev_sender");
    for (let i = 0; i < 7; i++) await send(sender, user, `m${i}`);
  });

  it("pages oldest first and links to the next page while events remain", async () => {
    const first = await events(user, { after: "0", limit: "3" });
    expect(first.status).toBe(200);
    expect(seqs((first.body as Page).events)).toEqual([1, 2, 3]);
    expect((first.body as Page).latest_seq).toBe(7);
    expect(first.headers.get("link")).toBe('</test?after=3&limit=3>; rel="next"');
    expect(first.headers.get("access-control-expose-headers")).toBe("Link");
    const last = await events(user, { after: "6", limit: "3" });
    expect(seqs((last.body as Page).events)).toEqual([7]);
    expect(last.headers.get("link")).toBeNull();
    // The default is everything after 0, up to 500.
    expect(seqs(((await events(user)).body as Page).events)).toEqual(upTo(7));
  });

  it("answers an empty page with the latest seq when asked past it (a restored database)", async () => {
    const res = await events(user, { after: "50" });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ events: [], latest_seq: 7 });
  });

  it("refuses a bad after or limit with a 422, and a missing token with a 401", async () => {
    for (const query of [{ after: "-1" }, { after: "x" }, { limit: "0" }, { limit: "1001" }] as Record<string, string>[]) {
      const res = await events(user, query);
      expect(res.status, JSON.stringify(query)).toBe(422);
    }
    expect((await call(eventsList, {})).status).toBe(401);
  });

  it("answers 410 with the latest seq once events after `after` were swept, and serves what is kept", async () => {
    const owner = await newUser("ev_swept");
    const sender = await newUser("ev_swept_from");
    for (let i = 0; i < 5; i++) await send(sender, owner);
    await getPool().query("UPDATE user_events SET created_at = now() - interval '8 days' WHERE user_id = $1 AND seq <= 3", [owner.id]);
    expect(await sweepEvents(new Date(Date.now() - 7 * 86_400_000), 2)).toBeGreaterThanOrEqual(3);
    for (const after of ["0", "2"]) {
      const gone = await events(owner, { after });
      expect(gone.status).toBe(410);
      expect(gone.body).toEqual({ detail: `Events after seq ${after} are no longer kept; reload the mailbox`, latest_seq: 5 });
    }
    expect(seqs(((await events(owner, { after: "3" })).body as Page).events)).toEqual([4, 5]);
  });

  it("the events-sweep timer deletes events older than EVENT_RETENTION_DAYS; the caller then gets 410", async () => {
    const owner = await newUser("ev_timer");
    const sender = await newUser("ev_timer_from");
    for (let i = 0; i < 3; i++) await send(sender, owner);
    await getPool().query("UPDATE user_events SET created_at = now() - interval '7 days 1 minute' WHERE user_id = $1 AND seq <= 2", [
      owner.id,
    ]);
    await eventsSweep.handler(new InvocationContext({ functionName: "events-sweep" }));
    expect((await getPool().query("SELECT seq FROM user_events WHERE user_id = $1 ORDER BY seq", [owner.id])).rows).toEqual([{ seq: "3" }]);
    expect((await events(owner)).status).toBe(410);
  });

  it("the sweep finds old events through the created_at index, in bounded batches", async () => {
    await getPool().query(
      `INSERT INTO user_events (user_id, seq, created_at, payload)
       SELECT 0, g, now() - interval '30 days' + g * interval '1 second', '{"event":"x"}' FROM generate_series(1, 20000) g`,
    );
    await getPool().query("ANALYZE user_events");
    const plan = (
      await getPool().query(
        `EXPLAIN DELETE FROM user_events e USING (SELECT user_id, seq FROM user_events WHERE created_at < now() - interval '7 days' ORDER BY created_at LIMIT 5000) d WHERE e.user_id = d.user_id AND e.seq = d.seq`,
      )
    ).rows
      .map((r: { "QUERY PLAN": string }) => r["QUERY PLAN"])
      .join("\n");
    expect(plan).toMatch(/Index Scan using user_events_created_at_idx/);
    expect(await sweepEvents(new Date(Date.now() - 7 * 86_400_000), 5_000)).toBe(20_000);
  });

  it("ends a page before a hole, so the next request learns the events are gone", async () => {
    const owner = await newUser("ev_hole");
    const sender = await newUser("ev_hole_from");
    for (let i = 0; i < 4; i++) await send(sender, owner);
    await getPool().query("DELETE FROM user_events WHERE user_id = $1 AND seq = 3", [owner.id]);
    const page = await events(owner, { after: "0", limit: "10" });
    expect(seqs((page.body as Page).events)).toEqual([1, 2]);
    expect(page.headers.get("link")).toBe('</test?after=2&limit=10>; rel="next"');
    expect((await events(owner, { after: "2" })).status).toBe(410);
  });
});
