/**
 * PUT /users/me/password: the current password is checked and counted as a login; the new one
 * follows the registration rules; every other session ends, the caller's goes on with a new pair.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { messagesUnreadCount } from "../../functions/messages-unread-count";
import { tokenCreate } from "../../functions/token-create";
import { usersMePassword } from "../../functions/users-me-password";
import { resetConfig } from "../../shared/config/config";
import { SETTINGS } from "../../shared/config/settings";
import { getPool } from "../../shared/data/db";
import { useTestDatabase, type TestDatabase } from "../support/database";
import { call } from "../support/http";
import { sessionIdOf, signToken } from "../support/tokens";
import { newUser, type TestUser } from "../support/users";

const FAILURES_PER_USER_ADDRESS = 3;
let db: TestDatabase;

beforeAll(async () => {
  process.env[SETTINGS.loginFailuresPerUserAddress] = String(FAILURES_PER_USER_ADDRESS);
  resetConfig();
  db = await useTestDatabase();
});
afterAll(async () => {
  await db.close();
});

interface Pair {
  access_token: string;
  refresh_token: string;
  expires_in: number;
}

let addresses = 0;
const login = async (user: TestUser, password = user.password) =>
  call(tokenCreate, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", "x-forwarded-for": `198.51.100.${++addresses}` },
    body: new URLSearchParams({ username: user.username, password }).toString(),
  });
const change = (token: string, json: unknown, address = "203.0.113.9") =>
  call(usersMePassword, { method: "PUT", token, json, headers: { "x-forwarded-for": address } });
const refresh = (refreshToken: string) =>
  call(tokenCreate, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: refreshToken }).toString(),
  });
const probe = (token: string) => call(messagesUnreadCount, { token });
const NEW_PASSWORD = "a brand new passphrase";

describe("PUT /users/me/password", () => {
  it("changes the password, ends every other session, and answers a new pair for the caller's session", async () => {
    const user = await newUser("pwchange");
    const mine = (await login(user)).body as Pair;
    const other = (await login(user)).body as Pair;
    const res = await change(mine.access_token, { current_password: user.password, new_password: NEW_PASSWORD });
    expect(res.status).toBe(200);
    const pair = res.body as Pair;
    expect(pair).toMatchObject({ token_type: "bearer", expires_in: expect.any(Number), refresh_token: expect.any(String) });
    expect(sessionIdOf(pair.access_token)).toBe(sessionIdOf(mine.access_token));
    // The caller's session goes on, with its earlier refresh token spent.
    expect((await probe(pair.access_token)).status).toBe(200);
    expect((await probe(mine.access_token)).status).toBe(200);
    expect((await refresh(pair.refresh_token)).status).toBe(200);
    // Every other session ended: its access and refresh tokens refused at once.
    expect((await probe(other.access_token)).status).toBe(401);
    expect((await probe(user.token)).status).toBe(401);
    expect((await refresh(other.refresh_token)).status).toBe(401);
    // The new password logs in, the old one no longer does.
    expect((await login(user, NEW_PASSWORD)).status).toBe(200);
    expect((await login(user)).status).toBe(401);
    const line = res.logs.find((l) => l.includes('"security_event":"password_changed"'));
    expect(line).toContain('"ended_sessions":2');
    expect(line).not.toContain(NEW_PASSWORD);
    expect(line).not.toContain(user.password);
  });

  it("answers 400 for a wrong current password, changes nothing, and counts it as a failed login (429 past the limit)", async () => {
    const user = await newUser("pwwrong");
    const other = (await login(user)).body as Pair;
    const address = "203.0.113.77";
    for (let i = 0; i < FAILURES_PER_USER_ADDRESS; i++) {
      const res = await change(user.token, { current_password: "not my password", new_password: NEW_PASSWORD }, address);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ detail: "Current password is incorrect" });
      expect(res.logs.some((l) => l.includes('"security_event":"password_change_failed"'))).toBe(true);
    }
    // Past the login budget for this account from this address: even the right password waits.
    const throttled = await change(user.token, { current_password: user.password, new_password: NEW_PASSWORD }, address);
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get("retry-after")).toMatch(/^\d+$/);
    // Nothing changed: the old password logs in, the other session lives.
    expect((await login(user)).status).toBe(200);
    expect((await probe(other.access_token)).status).toBe(200);
  });

  it.each([
    [{ current_password: "x", new_password: "short" }, "new_password", "string_too_short"],
    [{ current_password: "x", new_password: "€".repeat(25) }, "new_password", "string_too_long"],
    [{ current_password: "x", new_password: "password1" }, "new_password", "value_error"],
    [{ new_password: NEW_PASSWORD }, "current_password", "missing"],
    [{ current_password: "x" }, "new_password", "missing"],
    [{ current_password: "x", new_password: "ok but \u0000 nul" }, "new_password", "string_unicode"],
  ])("answers 422 naming the field for %j, and counts nothing", async (json, field, type) => {
    const user = await newUser("pwrules");
    const before = await getPool().query("SELECT count(*)::int AS n FROM rate_limits");
    const res = await change(user.token, json);
    expect(res.status).toBe(422);
    expect((res.body as { detail: { loc: unknown[]; type: string }[] }).detail).toContainEqual(
      expect.objectContaining({ loc: ["body", field], type }),
    );
    expect((await getPool().query("SELECT count(*)::int AS n FROM rate_limits")).rows[0].n).toBe(before.rows[0].n);
    expect((await login(user)).status).toBe(200);
  });

  it("starts a session for a caller whose token had none (issued before sessions), and ends every other", async () => {
    const user = await newUser("pwlegacy");
    const now = Math.floor(Date.now() / 1000);
    const legacy = signToken({ sub: user.username, uid: user.id, iat: now, exp: now + 600 });
    const res = await change(legacy, { current_password: user.password, new_password: NEW_PASSWORD });
    expect(res.status).toBe(200);
    const pair = res.body as Pair;
    expect(sessionIdOf(pair.access_token)).toMatch(/^[0-9a-f-]{36}$/);
    expect((await probe(pair.access_token)).status).toBe(200);
    expect((await probe(user.token)).status).toBe(401);
  });
});
