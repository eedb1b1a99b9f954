/** Idempotency-Key on POST /messages/, at the handler against a real database. */
import { InvocationContext } from "@azure/functions";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { idempotencyKeysSweep } from "../../functions/idempotency-keys-sweep";
import { messagesDelete as deleteMessage } from "../../functions/messages-delete";
import { messagesMarkRead } from "../../functions/messages-mark-read";
import { messagesSend } from "../../functions/messages-send";
import { getPool } from "../../shared/data/db";
import { claimKey, fingerprint, KEY_LIFETIME, KEY_SQL, recordAnswer, SWEEP_BATCH, sweepExpiredKeys } from "../../shared/data/idempotency";
import { openApiDocument } from "../../shared/http/openapi";
import { useTestDatabase, type TestDatabase } from "../support/database";
import { call } from "../support/http";
import { newUser, type TestUser } from "../support/users";

let db: TestDatabase;
let alice: TestUser, bob: TestUser, carol: TestUser;
beforeAll(async () => {
  db = await useTestDatabase();
  [alice, bob, carol] = [await newUser("ika"), await newUser("ikb"), await newUser("ikc")];
});
afterAll(async () => {
  await db.close();
});

type Msg = Record<string, unknown> & { id: number; is_read: boolean };

let keys = 0;
const freshKey = () => `key-${process.pid}-${++keys}`;

const send = (from: TestUser, json: unknown, key?: string) =>
  call(messagesSend, { method: "POST", token: from.token, json, headers: key === undefined ? {} : { "idempotency-key": key } });

const rowsTitled = async (title: string) =>
  (await getPool().query("SELECT count(*)::int AS n FROM messages WHERE title = $1", [title])).rows[0].n as number;

describe("the same key twice", () => {
  it("answers the first message again (200, same body) and stores one row", async () => {
    const key = freshKey();
    const first = await send(alice, { recipient_id: bob.id, title: "once", body: "b" }, key);
    const second = await send(alice, { recipient_id: bob.id, title: "once", body: "b" }, key);
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(second.text).toBe(first.text);
    expect(await rowsTitled("once")).toBe(1);
  });

  it("treats the request after validation: a numeric string id and a padded title are the same request", async () => {
    const key = freshKey();
    const first = await send(alice, { recipient_id: bob.id, title: "same after validation", body: "b" }, key);
    const second = await send(alice, { recipient_id: String(bob.id), title: "  same after validation  ", body: "b" }, key);
    expect(second.status).toBe(200);
    expect((second.body as Msg).id).toBe((first.body as Msg).id);
    expect(await rowsTitled("same after validation")).toBe(1);
  });

  it("replays the original answer, not the message's state now (Stripe-style)", async () => {
    const key = freshKey();
    const first = (await send(alice, { recipient_id: bob.id, title: "read later", body: "b" }, key)).body as Msg;
    const read = await call(messagesMarkRead, { method: "PUT", token: bob.token, params: { message_id: String(first.id) } });
    expect(read.status).toBe(200);
    const replay = await send(alice, { recipient_id: bob.id, title: "read later", body: "b" }, key);
    expect(replay.body).toEqual(first);
    expect((replay.body as Msg).is_read).toBe(false);
  });

  it("with a different body, recipient or title is a 422 with a sentence, storing nothing", async () => {
    const key = freshKey();
    const original = { recipient_id: bob.id, title: "original", body: "b" };
    expect((await send(alice, original, key)).status).toBe(200);
    for (const changed of [
      { ...original, body: "other body" },
      { ...original, title: "other title" },
      { ...original, recipient_id: carol.id },
      { ...original, recipient_id: 2 ** 40 },
    ]) {
      const res = await send(alice, changed, key);
      expect(res.status, JSON.stringify(changed)).toBe(422);
      expect(res.body).toEqual({ detail: "Idempotency-Key was already used for a different request" });
    }
    expect(await rowsTitled("original")).toBe(1);
    expect(await rowsTitled("other title")).toBe(0);
  });

  it("is per sender: another sender with the same key sends its own message", async () => {
    const key = freshKey();
    const fromAlice = (await send(alice, { recipient_id: bob.id, title: "shared key", body: "b" }, key)).body as Msg;
    const fromCarol = await send(carol, { recipient_id: bob.id, title: "shared key", body: "b" }, key);
    expect(fromCarol.status).toBe(200);
    expect((fromCarol.body as Msg).id).not.toBe(fromAlice.id);
    expect((fromCarol.body as Msg).sender_id).toBe(carol.id);
    expect(await rowsTitled("shared key")).toBe(2);
  });

  it("without a key, every request sends", async () => {
    await send(alice, { recipient_id: bob.id, title: "no key", body: "b" });
    await send(alice, { recipient_id: bob.id, title: "no key", body: "b" });
    expect(await rowsTitled("no key")).toBe(2);
  });

  it("a failed send leaves the key unused: its retry runs again", async () => {
    const key = freshKey();
    const missing = await send(alice, { recipient_id: 99_999_999, title: "after 404", body: "b" }, key);
    expect(missing.status).toBe(404);
    const fixed = await send(alice, { recipient_id: bob.id, title: "after 404", body: "b" }, key);
    expect(fixed.status).toBe(200);
    expect(await rowsTitled("after 404")).toBe(1);
  });
});

describe("two requests with the same key at once", () => {
  it("store one message and both answer 200 with its id (20 races)", async () => {
    for (let i = 0; i < 20; i++) {
      const key = freshKey();
      const title = `race ${key}`;
      const [a, b] = await Promise.all([0, 1].map(() => send(alice, { recipient_id: bob.id, title, body: "b" }, key)));
      expect([a.status, b.status], a.text + b.text).toEqual([200, 200]);
      expect((b.body as Msg).id).toBe((a.body as Msg).id);
      expect(await rowsTitled(title)).toBe(1);
    }
  });

  // A transaction of our own holds the claim, so the order of events is certain.
  async function holdClaim(key: string, input: { recipient_id: number; title: string; body: string }) {
    const client = new Client({ connectionString: db.url });
    await client.connect();
    await client.query("BEGIN");
    expect(await claimKey(client, alice.id, key, fingerprint(input))).toEqual({ kind: "claimed" });
    return client;
  }

  const pending = <T>(promise: Promise<T>) => Promise.race([promise.then(() => false), new Promise((r) => setTimeout(() => r(true), 300))]);

  it("the second waits for the first's commit, then answers its message", async () => {
    const key = freshKey();
    const input = { recipient_id: bob.id, title: "held then committed", body: "b" };
    const holder = await holdClaim(key, input);
    try {
      const { rows } = await holder.query(
        `INSERT INTO messages (sender_id, recipient_id, title, body) VALUES ($1, $2, $3, $4)
         RETURNING id, to_char("timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "timestamp"`,
        [alice.id, bob.id, input.title, input.body],
      );
      const answer = {
        id: rows[0].id as number,
        sender_id: alice.id,
        recipient_id: bob.id,
        title: input.title,
        body: input.body,
        // As the service formats it (in the database; see shared/data/message-view.ts).
        timestamp: rows[0].timestamp as string,
        is_read: false,
        sender_username: alice.username,
        recipient_username: bob.username,
        in_reply_to: null,
        thread_id: rows[0].id as number,
        to: [{ id: bob.id, username: bob.username }],
        cc: [],
        bcc: [],
        folder: "sent",
        copy: "sent",
        is_starred: false,
        read_by: [],
        attachments: [],
      };
      await recordAnswer(holder, alice.id, key, answer.id);
      const retry = send(alice, input, key);
      expect(await pending(retry)).toBe(true);
      await holder.query("COMMIT");
      const res = await retry;
      expect(res.status).toBe(200);
      expect(res.body).toEqual(answer);
      expect(await rowsTitled(input.title)).toBe(1);
    } finally {
      await holder.end();
    }
  });

  it("when the first rolls back, the second sends the message itself", async () => {
    const key = freshKey();
    const input = { recipient_id: bob.id, title: "held then rolled back", body: "b" };
    const holder = await holdClaim(key, input);
    try {
      const retry = send(alice, input, key);
      expect(await pending(retry)).toBe(true);
      await holder.query("ROLLBACK");
      const res = await retry;
      expect(res.status).toBe(200);
      expect(await rowsTitled(input.title)).toBe(1);
    } finally {
      await holder.end();
    }
  });
});

describe("keys expire after 24 hours", () => {
  const age = (key: string, interval: string) =>
    getPool().query(`UPDATE idempotency_keys SET created_at = now() - $2::interval WHERE key = $1`, [key, interval]);

  it("a key just under 24 hours old still replays; an older one sends anew, even with another body", async () => {
    const key = freshKey();
    const first = (await send(alice, { recipient_id: bob.id, title: "aging", body: "b" }, key)).body as Msg;
    await age(key, "23 hours 59 minutes");
    expect(((await send(alice, { recipient_id: bob.id, title: "aging", body: "b" }, key)).body as Msg).id).toBe(first.id);
    await age(key, "24 hours 1 second");
    const renewed = await send(alice, { recipient_id: bob.id, title: "aging", body: "b" }, key);
    expect(renewed.status).toBe(200);
    expect((renewed.body as Msg).id).not.toBe(first.id);
    expect(await rowsTitled("aging")).toBe(2);
    // The renewed key now holds the new message, for another 24 hours.
    expect(((await send(alice, { recipient_id: bob.id, title: "aging", body: "b" }, key)).body as Msg).id).toBe((renewed.body as Msg).id);
    await age(key, "25 hours");
    expect((await send(alice, { recipient_id: bob.id, title: "aging, changed", body: "b" }, key)).status).toBe(200);
  });

  it("the timer function sweeps every expired key in batches, oldest first, and no live one; a send sweeps nothing", async () => {
    const pool = getPool();
    await pool.query("DELETE FROM idempotency_keys");
    const expired = SWEEP_BATCH * 2 + 30;
    await pool.query(
      `INSERT INTO idempotency_keys (sender_id, key, fingerprint, message_id, created_at)
       SELECT $1, 'old-' || i, 'f', 1, now() - interval '2 days' + i * interval '1 second' FROM generate_series(1, $2) AS i`,
      [carol.id, expired],
    );
    await pool.query(`INSERT INTO idempotency_keys (sender_id, key, fingerprint, message_id) VALUES ($1, 'live', 'f', 1)`, [carol.id]);
    expect((await send(alice, { recipient_id: bob.id, title: "sweeper", body: "b" }, freshKey())).status).toBe(200);
    const count = async () =>
      (await pool.query("SELECT count(*)::int AS n FROM idempotency_keys WHERE sender_id = $1", [carol.id])).rows[0].n as number;
    expect(await count()).toBe(expired + 1);
    // One batch: the oldest go first.
    expect(await sweepExpiredKeys()).toBe(SWEEP_BATCH);
    const { rows } = await pool.query<{ key: string }>(
      "SELECT key FROM idempotency_keys WHERE sender_id = $1 ORDER BY created_at LIMIT 1",
      [carol.id],
    );
    expect(rows[0].key).toBe(`old-${SWEEP_BATCH + 1}`);
    // The timer function runs batches until none is full.
    const logs: string[] = [];
    await idempotencyKeysSweep.handler(new InvocationContext({ logHandler: (_level, ...args) => logs.push(args.join(" ")) }));
    const left = await pool.query<{ key: string }>("SELECT key FROM idempotency_keys WHERE sender_id = $1", [carol.id]);
    expect(left.rows.map((r) => r.key)).toEqual(["live"]);
    expect(logs).toEqual([`swept ${expired - SWEEP_BATCH} expired idempotency keys`]);
  });

  it("is scheduled as a timer function every ten minutes (six-field NCRONTAB, seconds first)", () => {
    expect(idempotencyKeysSweep.name).toBe("idempotency-keys-sweep");
    expect(idempotencyKeysSweep.schedule).toBe("0 */10 * * * *");
  });
});

describe("what a key keeps", () => {
  it("only the sender, the key, a digest of the request and the message id: never the title or body", async () => {
    const key = freshKey();
    const sent = (await send(alice, { recipient_id: bob.id, title: "secret title kept nowhere", body: "secret body kept nowhere" }, key))
      .body as Msg;
    const { rows } = await getPool().query("SELECT * FROM idempotency_keys WHERE sender_id = $1 AND key = $2", [alice.id, key]);
    expect(Object.keys(rows[0]).sort()).toEqual(["created_at", "fingerprint", "key", "message_id", "sender_id"]);
    expect(rows[0].message_id).toBe(sent.id);
    expect(rows[0].fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(rows[0])).not.toContain("secret");
  });

  it("once both parties delete the message, no text is left anywhere and a replay answers 410, sending nothing", async () => {
    const key = freshKey();
    const input = { recipient_id: bob.id, title: "erased title 7f1c", body: "erased body 7f1c" };
    const sent = (await send(alice, input, key)).body as Msg;
    // Deleted by the sender only: the message still exists, and the replay answers it as first sent.
    expect((await call(deleteMessage, { method: "DELETE", token: alice.token, params: { message_id: String(sent.id) } })).status).toBe(204);
    expect((await send(alice, input, key)).body).toEqual(sent);
    expect((await call(deleteMessage, { method: "DELETE", token: bob.token, params: { message_id: String(sent.id) } })).status).toBe(204);
    const dump = await getPool().query(
      "SELECT (SELECT json_agg(m) FROM messages m) AS messages, (SELECT json_agg(k) FROM idempotency_keys k) AS keys",
    );
    expect(JSON.stringify(dump.rows[0])).not.toContain("7f1c");
    const replay = await send(alice, input, key);
    expect(replay.status).toBe(410);
    expect(replay.body).toEqual({ detail: "The message sent with this Idempotency-Key has since been deleted" });
    expect(await rowsTitled(input.title)).toBe(0);
  });
});

describe("a malformed key", () => {
  it.each([
    ["empty", "", "string_too_short"],
    ["256 characters", "k".repeat(256), "string_too_long"],
    ["a space inside", "two words", "string_pattern_mismatch"],
    ["a tab inside", "tab\there", "string_pattern_mismatch"],
    ["a control character", "bell\x07", "string_pattern_mismatch"],
    ["DEL", "del\x7f", "string_pattern_mismatch"],
    ["non-ASCII", "clé", "string_pattern_mismatch"],
  ])("422 naming the header: %s", async (_name, key, type) => {
    const title = `bad key ${type} ${key.length}`;
    const res = await send(alice, { recipient_id: bob.id, title, body: "b" }, key);
    expect(res.status).toBe(422);
    expect((res.body as { detail: unknown[] }).detail).toEqual([
      expect.objectContaining({ loc: ["header", "idempotency-key"], type, msg: expect.any(String) }),
    ]);
    expect(await rowsTitled(title)).toBe(0);
  });

  it("accepts 255 visible ASCII characters", async () => {
    const key = "!~".repeat(127) + "Z";
    const res = await send(alice, { recipient_id: bob.id, title: "longest key", body: "b" }, key);
    expect(res.status).toBe(200);
    expect((await send(alice, { recipient_id: bob.id, title: "longest key", body: "b" }, key)).text).toBe(res.text);
  });
});

describe("the key queries use their indexes", () => {
  it("on a table of 20 000 keys: claim, lookup and record by primary key, the sweep by created_at and row address", async () => {
    const pool = getPool();
    // A day and a bit of keys, one in ten past their lifetime, as after a sweep fell behind.
    await pool.query(
      `INSERT INTO idempotency_keys (sender_id, key, fingerprint, message_id, created_at)
       SELECT $1, 'bulk-' || i, 'f', 1, now() - (i % 27) * interval '1 hour' - i * interval '1 millisecond'
         FROM generate_series(1, 20000) AS i`,
      [carol.id],
    );
    await pool.query("ANALYZE idempotency_keys");
    try {
      const plan = async (sql: string, params: unknown[]) =>
        (await pool.query(`EXPLAIN ${sql}`, params)).rows.map((r) => r["QUERY PLAN"]).join("\n");
      expect(await plan(KEY_SQL.claim, [carol.id, "k", "f", KEY_LIFETIME])).toMatch(/Conflict Arbiter Indexes: idempotency_keys_pkey/);
      expect(await plan(KEY_SQL.find, [carol.id, "k"])).toMatch(/Index Scan using idempotency_keys_pkey/);
      expect(await plan(KEY_SQL.record, [carol.id, "k", 1])).toMatch(/Index Scan using idempotency_keys_pkey/);
      const sweep = await plan(KEY_SQL.sweep, [KEY_LIFETIME, SWEEP_BATCH]);
      expect(sweep).toMatch(/Index Scan using idempotency_keys_created_at_idx/);
      expect(sweep).toMatch(/Tid Scan on idempotency_keys/);
      expect(sweep).not.toMatch(/Seq Scan|Sort|idempotency_keys_pkey/);
    } finally {
      await pool.query("DELETE FROM idempotency_keys WHERE key LIKE 'bulk-%'");
    }
  });
});

describe("the OpenAPI document", () => {
  it("declares the optional Idempotency-Key header of POST /messages/ with its bounds", () => {
    const doc = openApiDocument() as { paths: Record<string, Record<string, { parameters: Record<string, unknown>[] }>> };
    expect(doc.paths["/messages/"].post.parameters).toContainEqual(
      expect.objectContaining({
        name: "idempotency-key",
        in: "header",
        required: false,
        schema: expect.objectContaining({ type: "string", minLength: 1, maxLength: 255, pattern: "^[!-~]*$" }),
      }),
    );
  });
});
