/**
 * Sessions: each login starts one; refresh tokens rotate, are stored as digests only, and a spent
 * one presented again ends its session; ending a session refuses its access tokens on the next
 * request. Also GET /users/me and the sessions list.
 */
import { createHash } from "node:crypto";
import jwt from "jsonwebtoken";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { messagesUnreadCount } from "../../functions/messages-unread-count";
import { sessionsSweep } from "../../functions/sessions-sweep";
import { tokenCreate } from "../../functions/token-create";
import { usersMe } from "../../functions/users-me";
import { usersMeSessionDelete } from "../../functions/users-me-session-delete";
import { usersMeSessionsDelete } from "../../functions/users-me-sessions-delete";
import { usersMeSessionsList } from "../../functions/users-me-sessions-list";
import { getPool } from "../../shared/data/db";
import { useTestDatabase, type TestDatabase } from "../support/database";
import { call, type CallResult } from "../support/http";
import { sessionIdOf, signToken } from "../support/tokens";
import { newUser, type TestUser } from "../support/users";

const SECRET = process.env.SECRET_KEY as string;
let db: TestDatabase;

beforeAll(async () => {
  db = await useTestDatabase();
});
afterAll(async () => {
  await db.close();
});

interface Pair {
  access_token: string;
  refresh_token: string;
  expires_in: number;
  token_type: string;
}

const form = (fields: Record<string, string>, headers: Record<string, string> = {}) => ({
  method: "POST",
  headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
  body: new URLSearchParams(fields).toString(),
});

async function login(user: TestUser, userAgent = "test-agent"): Promise<Pair> {
  const res = await call(tokenCreate, form({ username: user.username, password: user.password }, { "user-agent": userAgent }));
  expect(res.status).toBe(200);
  return res.body as Pair;
}

const refresh = (refreshToken: string, headers: Record<string, string> = {}) =>
  call(tokenCreate, form({ grant_type: "refresh_token", refresh_token: refreshToken }, headers));

const probe = (token: string): Promise<CallResult> => call(messagesUnreadCount, { token });
const digest = (token: string) => createHash("sha256").update(token).digest();

describe("POST /token: sessions and refresh tokens", () => {
  it("answers a refresh token and expires_in, names the session in the access token, and stores only a digest", async () => {
    const user = await newUser("sess");
    const pair = await login(user);
    expect(pair).toEqual({
      access_token: expect.any(String),
      token_type: "bearer",
      refresh_token: expect.any(String),
      expires_in: 30 * 60,
      device_token: expect.any(String),
    });
    // 32 random bytes, base64url.
    expect(Buffer.from(pair.refresh_token, "base64url")).toHaveLength(32);
    const claims = jwt.verify(pair.access_token, SECRET) as { sid: string; uid: number; sub: string };
    expect(claims).toMatchObject({ uid: user.id, sub: user.username, sid: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    const { rows } = await getPool().query(
      "SELECT t.token_hash, s.user_id FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id WHERE s.id = $1",
      [claims.sid],
    );
    expect(rows).toEqual([{ token_hash: digest(pair.refresh_token), user_id: user.id }]);
    const dump = await getPool().query(
      "SELECT row_to_json(t)::text AS r FROM refresh_tokens t UNION ALL SELECT row_to_json(s)::text FROM sessions s",
    );
    expect(dump.rows.some((r: { r: string }) => r.r.includes(pair.refresh_token))).toBe(false);
  });

  it("rotates: a refresh answers a new pair for the same session, and the token presented is spent", async () => {
    const user = await newUser("rot");
    const first = await login(user);
    const res = await refresh(first.refresh_token);
    expect(res.status).toBe(200);
    const second = res.body as Pair;
    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect(sessionIdOf(second.access_token)).toBe(sessionIdOf(first.access_token));
    expect((await probe(second.access_token)).status).toBe(200);
    const third = await refresh(second.refresh_token);
    expect(third.status).toBe(200);
  });

  it("ends the whole session when a spent refresh token is presented again (reuse detection), and logs it", async () => {
    const user = await newUser("reuse");
    const first = await login(user);
    const second = (await refresh(first.refresh_token)).body as Pair;
    const replay = await refresh(first.refresh_token);
    expect(replay.status).toBe(401);
    expect(replay.body).toEqual({ detail: "The refresh token is invalid, expired or already used; log in again" });
    expect(replay.headers.get("www-authenticate")).toBe("Bearer");
    const line = replay.logs.find((l) => l.includes('"security_event":"refresh_token_reused"'));
    expect(line).toBeDefined();
    expect(line).toContain(`"user_id":${user.id}`);
    expect(line).toContain(sessionIdOf(first.access_token));
    expect(line).not.toContain(first.refresh_token);
    // The legitimate holder's newer tokens are refused too: the session is gone.
    expect((await refresh(second.refresh_token)).status).toBe(401);
    const after = await probe(second.access_token);
    expect(after.status).toBe(401);
    expect(after.body).toEqual({ detail: "Could not validate credentials" });
  });

  it("lets two logins of one user live side by side: ending one leaves the other", async () => {
    const user = await newUser("twin");
    const a = await login(user, "device A");
    const b = await login(user, "device B");
    expect(sessionIdOf(a.access_token)).not.toBe(sessionIdOf(b.access_token));
    await refresh(a.refresh_token);
    expect((await refresh(a.refresh_token)).status).toBe(401); // reuse ends session a
    expect((await probe(a.access_token)).status).toBe(401);
    expect((await probe(b.access_token)).status).toBe(200);
    expect((await refresh(b.refresh_token)).status).toBe(200);
  });

  it.each([
    ["malformed", "not a token"],
    ["empty", ""],
    ["unknown", Buffer.alloc(32, 7).toString("base64url")],
    ["over-long", "A".repeat(10_000)],
  ])("refuses a %s refresh token with 401", async (_name, token) => {
    const res = await refresh(token);
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ detail: "The refresh token is invalid, expired or already used; log in again" });
  });

  it("answers 422 naming refresh_token when the refresh grant has none, and username when the password grant has none", async () => {
    const noToken = await call(tokenCreate, form({ grant_type: "refresh_token" }));
    expect(noToken.status).toBe(422);
    expect(noToken.body).toEqual({ detail: [expect.objectContaining({ loc: ["body", "refresh_token"], type: "missing" })] });
    const noName = await call(tokenCreate, form({ password: "x" }));
    expect(noName.status).toBe(422);
    expect(noName.body).toEqual({ detail: [expect.objectContaining({ loc: ["body", "username"], type: "missing" })] });
    const other = await call(tokenCreate, form({ grant_type: "client_credentials" }));
    expect(other.status).toBe(422);
    // Unstorable text is a 422 anywhere (the general rule), never a lookup.
    const nul = await refresh("\u0000".repeat(43));
    expect(nul.status).toBe(422);
  });

  it("refuses a refresh token sent with another user's access token, and leaves it usable by its owner", async () => {
    const owner = await newUser("owner");
    const other = await newUser("other");
    const pair = await login(owner);
    const mixed = await refresh(pair.refresh_token, { authorization: `Bearer ${other.token}` });
    expect(mixed.status).toBe(401);
    expect((await refresh(pair.refresh_token, { authorization: `Bearer ${pair.access_token}` })).status).toBe(200);
  });

  it("refuses the refresh of a session idle SESSION_IDLE_DAYS, ends it, and the sweep deletes idle sessions", async () => {
    const user = await newUser("idle");
    const pair = await login(user);
    const other = await login(user);
    await getPool().query("UPDATE sessions SET last_used_at = now() - interval '31 days' WHERE id = ANY ($1::uuid[])", [
      [sessionIdOf(pair.access_token), sessionIdOf(other.access_token)],
    ]);
    expect((await refresh(pair.refresh_token)).status).toBe(401);
    const { rowCount } = await getPool().query("SELECT 1 FROM sessions WHERE id = $1", [sessionIdOf(pair.access_token)]);
    expect(rowCount).toBe(0);
    const logs: string[] = [];
    const { InvocationContext } = await import("@azure/functions");
    await sessionsSweep.handler(new InvocationContext({ logHandler: (_l, ...args) => logs.push(args.join(" ")) }));
    expect((await getPool().query("SELECT 1 FROM sessions WHERE id = $1", [sessionIdOf(other.access_token)])).rowCount).toBe(0);
    expect((await getPool().query("SELECT 1 FROM sessions WHERE user_id = $1", [user.id])).rowCount).toBe(1); // newUser's own login
  });

  it("keeps accepting an access token from before sessions (no sid) until it expires", async () => {
    const user = await newUser("legacy");
    const now = Math.floor(Date.now() / 1000);
    const old = signToken({ sub: user.username, uid: user.id, iat: now, exp: now + 600 });
    expect((await probe(old)).status).toBe(200);
    const expired = signToken({ sub: user.username, uid: user.id, iat: now - 700, exp: now - 100 });
    expect((await probe(expired)).status).toBe(401);
  });

  it("refuses a token naming a session that does not exist or belongs to someone else", async () => {
    const user = await newUser("forged");
    const victim = await newUser("victim");
    const now = Math.floor(Date.now() / 1000);
    const claims = { sub: user.username, uid: user.id, iat: now, exp: now + 600 };
    const ghost = signToken({ ...claims, sid: "00000000-0000-4000-8000-000000000000" });
    expect((await probe(ghost)).status).toBe(401);
    const borrowed = signToken({ ...claims, sid: sessionIdOf(victim.token) });
    expect((await probe(borrowed)).status).toBe(401);
    const malformed = signToken({ ...claims, sid: "'; DROP TABLE users; --" });
    expect((await probe(malformed)).status).toBe(401);
  });
});

describe("GET /users/me and the sessions list", () => {
  it("answers the account with created_at", async () => {
    const user = await newUser("me");
    const res = await call(usersMe, { token: user.token });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      id: user.id,
      username: user.username,
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    });
    expect((await call(usersMe)).status).toBe(401);
  });

  it("lists the account's sessions, the caller's marked current, user agents as sent", async () => {
    const user = await newUser("lister");
    const phone = await login(user, "Phone/1.0");
    await login(user, "Laptop/2.0");
    const res = await call(usersMeSessionsList, { token: phone.access_token });
    expect(res.status).toBe(200);
    const sessions = res.body as { id: string; current: boolean; user_agent: string | null; created_at: string; last_used_at: string }[];
    expect(sessions).toHaveLength(3);
    expect(sessions.filter((s) => s.current).map((s) => s.id)).toEqual([sessionIdOf(phone.access_token)]);
    expect(sessions.map((s) => s.user_agent).sort()).toEqual(["Laptop/2.0", "Phone/1.0", null]);
    expect(Object.keys(sessions[0]).sort()).toEqual(["created_at", "current", "id", "last_used_at", "user_agent"]);
  });
});

describe("signing out", () => {
  it("DELETE /users/me/sessions/{id} ends that session: its tokens are refused on the next request, the rest go on", async () => {
    const user = await newUser("signout");
    const phone = await login(user);
    const laptop = await login(user);
    const res = await call(usersMeSessionDelete, {
      method: "DELETE",
      token: laptop.access_token,
      params: { session_id: sessionIdOf(phone.access_token) },
    });
    expect(res.status).toBe(204);
    expect(res.logs.some((l) => l.includes('"security_event":"signed_out"'))).toBe(true);
    expect((await probe(phone.access_token)).status).toBe(401);
    expect((await refresh(phone.refresh_token)).status).toBe(401);
    expect((await probe(laptop.access_token)).status).toBe(200);
    // Signing the caller's own session out.
    const own = await call(usersMeSessionDelete, {
      method: "DELETE",
      token: laptop.access_token,
      params: { session_id: sessionIdOf(laptop.access_token) },
    });
    expect(own.status).toBe(204);
    expect((await probe(laptop.access_token)).status).toBe(401);
  });

  it("answers 404 for an unknown session or another user's, and 422 for a malformed id", async () => {
    const user = await newUser("notmine");
    const other = await newUser("theirs");
    const unknown = await call(usersMeSessionDelete, {
      method: "DELETE",
      token: user.token,
      params: { session_id: "00000000-0000-4000-8000-000000000000" },
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ detail: "Session not found" });
    const theirs = await call(usersMeSessionDelete, {
      method: "DELETE",
      token: user.token,
      params: { session_id: sessionIdOf(other.token) },
    });
    expect(theirs.status).toBe(404);
    expect((await probe(other.token)).status).toBe(200);
    const malformed = await call(usersMeSessionDelete, { method: "DELETE", token: user.token, params: { session_id: "12" } });
    expect(malformed.status).toBe(422);
    expect((malformed.body as { detail: { loc: unknown[] }[] }).detail[0].loc).toEqual(["path", "session_id"]);
  });

  it("DELETE /users/me/sessions signs out everywhere, the caller included", async () => {
    const user = await newUser("everywhere");
    const a = await login(user);
    const b = await login(user);
    const res = await call(usersMeSessionsDelete, { method: "DELETE", token: a.access_token });
    expect(res.status).toBe(204);
    expect(res.logs.some((l) => l.includes('"security_event":"signed_out_everywhere"') && l.includes('"ended_sessions":3'))).toBe(true);
    for (const token of [a.access_token, b.access_token, user.token]) expect((await probe(token)).status).toBe(401);
    for (const token of [a.refresh_token, b.refresh_token]) expect((await refresh(token)).status).toBe(401);
    // A new login works.
    expect((await probe((await login(user)).access_token)).status).toBe(200);
  });
});
