/**
 * DELETE /users/me and GET /users/me/export: deletion is confirmed by the password (a wrong one is
 * a 400 that changes nothing), removes the account's copies from every folder, ends its sessions,
 * keeps what it sent with its recipients as from "deleted user", and never frees its name; the
 * export holds the account and every copy, attachments listed.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { messagesInbox } from "../../functions/messages-inbox";
import { messagesSend } from "../../functions/messages-send";
import { tokenCreate } from "../../functions/token-create";
import { usersCreate } from "../../functions/users-create";
import { usersList } from "../../functions/users-list";
import { usersMe } from "../../functions/users-me";
import { usersMeDelete } from "../../functions/users-me-delete";
import { usersMeExport } from "../../functions/users-me-export";
import { attachToMessage } from "../../shared/data/attachments";
import { getPool, inTransaction } from "../../shared/data/db";
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

type Msg = { id: number; sender_username: string; sender_id: number; folder: string; title: string };

async function send(from: TestUser, to: TestUser, title: string): Promise<Msg> {
  const res = await call(messagesSend, {
    method: "POST",
    token: from.token,
    json: { recipient_id: to.id, title, body: `body of ${title}` },
  });
  expect(res.status, res.text).toBe(200);
  return res.body as Msg;
}

const login = (username: string, password: string) =>
  call(tokenCreate, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ username, password }).toString(),
  });
const remove = (user: TestUser, password: string) => call(usersMeDelete, { method: "DELETE", token: user.token, json: { password } });
const copiesOf = async (userId: number) =>
  (await getPool().query("SELECT count(*)::int AS n FROM message_copies WHERE user_id = $1", [userId])).rows[0].n as number;

describe("DELETE /users/me", () => {
  it("answers 400 for a wrong password and changes nothing", async () => {
    const user = await newUser("keepme");
    const other = await newUser("keepme_peer");
    await send(user, other, "kept");
    const res = await remove(user, "not my password");
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ detail: "Password is incorrect" });
    expect(res.logs.some((l) => l.includes('"security_event":"account_deletion_failed"'))).toBe(true);
    expect((await call(usersMe, { token: user.token })).status).toBe(200);
    expect((await login(user.username, user.password)).status).toBe(200);
    expect(await copiesOf(user.id)).toBe(1);
  });

  it("deletes the account: copies gone, sessions ended, sent mail kept as from 'deleted user', name never reusable", async () => {
    const leaving = await newUser("Leaving");
    const friend = await newUser("friend");
    await send(leaving, friend, "from the leaver");
    await send(friend, leaving, "to the leaver");
    const onlyMine = await send(leaving, leaving, "note to self");
    const res = await remove(leaving, leaving.password);
    expect(res.status).toBe(204);
    expect(res.text).toBe("");
    const logged = res.logs.find((l) => l.includes('"security_event":"account_deleted"'));
    expect(logged).toContain(`"user_id":${leaving.id}`);
    expect(logged).not.toContain(leaving.password);

    // Gone at once: its token, its login, its copies, its place in the user list.
    expect((await call(usersMe, { token: leaving.token })).status).toBe(401);
    expect((await login(leaving.username, leaving.password)).status).toBe(401);
    expect(await copiesOf(leaving.id)).toBe(0);
    expect((await getPool().query("SELECT 1 FROM sessions WHERE user_id = $1", [leaving.id])).rowCount).toBe(0);
    // A message nobody else held is erased.
    expect((await getPool().query("SELECT 1 FROM messages WHERE id = $1", [onlyMine.id])).rowCount).toBe(0);
    const users = (await call(usersList, { token: friend.token })).body as { id: number }[];
    expect(users.map((u) => u.id)).not.toContain(leaving.id);

    // The friend keeps what it sent, shown as from "deleted user".
    const inbox = (await call(messagesInbox, { token: friend.token })).body as Msg[];
    const kept = inbox.find((m) => m.title === "from the leaver");
    expect(kept).toMatchObject({ sender_id: leaving.id, sender_username: "deleted user" });

    // Sending to it is a 404, and its name is never registered again, in any case or look-alike spelling.
    const toGone = await call(messagesSend, {
      method: "POST",
      token: friend.token,
      json: { recipient_id: leaving.id, title: "hi", body: "x" },
    });
    expect(toGone.status).toBe(404);
    for (const username of [leaving.username, leaving.username.toLowerCase(), leaving.username.replace("a", "\u0430")]) {
      const again = await call(usersCreate, { method: "POST", json: { username, password: "another fine passphrase" } });
      expect(again.status, username).toBe(400);
      expect(again.body).toEqual({ detail: "Username already registered" });
    }
  });

  it("answers 422 without a password, and 401 without a token", async () => {
    const user = await newUser("nopw");
    const res = await call(usersMeDelete, { method: "DELETE", token: user.token, json: {} });
    expect(res.status).toBe(422);
    expect((res.body as { detail: { loc: unknown[] }[] }).detail[0].loc).toEqual(["body", "password"]);
    expect((await call(usersMeDelete, { method: "DELETE", json: { password: "x" } })).status).toBe(401);
  });
});

describe("GET /users/me/export", () => {
  it("streams the account and every copy in every folder, attachments listed", async () => {
    const me = await newUser("exporter");
    const peer = await newUser("exportpeer");
    const sent = await send(me, peer, "sent by me");
    const received = await send(peer, me, "received by me");
    const attachment = randomUUID();
    // An upload of the peer's, attached to the message as a send attaches it.
    await getPool().query(
      "INSERT INTO attachments (id, owner_id, blob_name, filename, content_type, size) VALUES ($1, $2, $3, 'notes.txt', 'text/plain', 12)",
      [attachment, peer.id, `blob-${attachment}`],
    );
    expect(await inTransaction((tx) => attachToMessage(tx, received.id, peer.id, [attachment]))).toBe(true);
    const res = await call(usersMeExport, { token: me.token });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(res.headers.get("content-disposition")).toBe(`attachment; filename="mail-export-${me.id}.json"`);
    const body = res.body as { account: { id: number; username: string }; messages: (Msg & { attachments: unknown[] })[] };
    expect(body.account).toEqual({ id: me.id, username: me.username, created_at: expect.any(String) });
    expect(body.messages.map((m) => [m.id, m.folder])).toEqual([
      [sent.id, "sent"],
      [received.id, "inbox"],
    ]);
    expect(body.messages[1].attachments).toEqual([{ id: attachment, filename: "notes.txt", content_type: "text/plain", size: 12 }]);
    expect(body.messages[0].attachments).toEqual([]);
  });

  it("pages through a mailbox larger than one page, each copy once", async () => {
    const me = await newUser("bigexport");
    await getPool().query(
      "INSERT INTO messages (sender_id, recipient_id, title, body) SELECT $1, $1, 'm' || g, 'b' FROM generate_series(1, 1203) g",
      [me.id],
    );
    const res = await call(usersMeExport, { token: me.token });
    const { messages } = res.body as { messages: { id: number; folder: string }[] };
    // A note to oneself is two copies: the sent one and the received one.
    expect(messages).toHaveLength(2 * 1203);
    expect(new Set(messages.map((m) => `${m.id}:${m.folder}`)).size).toBe(2 * 1203);
  });
});
