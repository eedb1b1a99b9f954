/**
 * When a session ends, its sockets close within 5 seconds and exactly its sockets (local host, Web
 * PubSub stand-in, real sockets): each socket is in its session's group. A password change closes
 * every other device's sockets and keeps the caller's; signing out everywhere closes them all;
 * refresh-token reuse closes the session's.
 */
import { beforeAll, describe, expect, it } from "vitest";

import { TEST_PASSWORD } from "../support/api";
import { settle, SocketProbe } from "../support/sockets";
import { useLocalStack } from "../support/stack";

const CLOSE_WITHIN_MS = 5_000;
const local = useLocalStack();
let base: string;

beforeAll(async () => {
  base = local.url;
});

interface Pair {
  access_token: string;
  refresh_token: string;
}

let users = 0;
async function register(): Promise<string> {
  const username = `ss_${++users}_${process.pid}`;
  const res = await fetch(`${base}/users/`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password: TEST_PASSWORD }),
  });
  expect(res.status).toBe(200);
  return username;
}

async function login(username: string, password = TEST_PASSWORD): Promise<Pair> {
  const res = await fetch(`${base}/token`, { method: "POST", body: new URLSearchParams({ username, password }) });
  expect(res.status).toBe(200);
  return (await res.json()) as Pair;
}

const sidOf = (token: string) => (JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString()) as { sid: string }).sid;

interface OpenSocket {
  probe: SocketProbe;
  closed: Promise<{ code: number; reason: string }>;
}

async function openSocket(token: string): Promise<OpenSocket> {
  const res = await fetch(`${base}/ws/`, { headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
  const { url } = (await res.json()) as { url: string };
  const probe = await SocketProbe.open(url);
  local.probes.push(probe);
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    probe.socket.once("close", (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  return { probe, closed };
}

/** Resolves with the close, or rejects if the socket is still open after `ms`. */
const closedWithin = (socket: OpenSocket, ms = CLOSE_WITHIN_MS) =>
  Promise.race([socket.closed, settle(ms).then(() => Promise.reject(new Error("the socket stayed open")))]);

/** True if the socket is still open after `ms` (long enough for a close that was sent to arrive). */
const stillOpenAfter = async (socket: OpenSocket, ms = 1_000) => {
  const outcome = await Promise.race([socket.closed.then(() => "closed"), settle(ms).then(() => "open")]);
  return outcome === "open";
};

const authorized = (token: string) => ({ authorization: `Bearer ${token}` });

describe("ending a session closes its sockets", () => {
  it("DELETE /users/me/sessions/{id}: that session's sockets close within 5 s, the other session's stay", async () => {
    const username = await register();
    const phone = await login(username);
    const laptop = await login(username);
    const phoneSocket = await openSocket(phone.access_token);
    const laptopSocket = await openSocket(laptop.access_token);
    const started = Date.now();
    const res = await fetch(`${base}/users/me/sessions/${sidOf(phone.access_token)}`, {
      method: "DELETE",
      headers: authorized(laptop.access_token),
    });
    expect(res.status).toBe(204);
    const close = await closedWithin(phoneSocket);
    expect(Date.now() - started).toBeLessThan(CLOSE_WITHIN_MS);
    expect(close.reason).toBe("This session has ended; log in again");
    expect(await stillOpenAfter(laptopSocket)).toBe(true);
    // Its access token is refused on the next request.
    expect((await fetch(`${base}/messages/unread_count/`, { headers: authorized(phone.access_token) })).status).toBe(401);
  });

  it("PUT /users/me/password closes every other device's sockets and keeps the caller's", async () => {
    const username = await register();
    const caller = await login(username);
    const other = await login(username);
    const callerSocket = await openSocket(caller.access_token);
    const otherSockets = [await openSocket(other.access_token), await openSocket(other.access_token)];
    const res = await fetch(`${base}/users/me/password`, {
      method: "PUT",
      headers: { ...authorized(caller.access_token), "content-type": "application/json" },
      body: JSON.stringify({ current_password: TEST_PASSWORD, new_password: "another fine passphrase" }),
    });
    expect(res.status).toBe(200);
    await Promise.all(otherSockets.map((socket) => closedWithin(socket)));
    expect(await stillOpenAfter(callerSocket)).toBe(true);
  });

  it("DELETE /users/me/sessions closes every socket of the account", async () => {
    const username = await register();
    const a = await login(username);
    const b = await login(username);
    const sockets = [await openSocket(a.access_token), await openSocket(b.access_token)];
    const res = await fetch(`${base}/users/me/sessions`, { method: "DELETE", headers: authorized(a.access_token) });
    expect(res.status).toBe(204);
    await Promise.all(sockets.map((socket) => closedWithin(socket)));
  });

  it("a reused refresh token ends its session and closes its sockets", async () => {
    const username = await register();
    const first = await login(username);
    const bystander = await login(username);
    const socket = await openSocket(first.access_token);
    const bystanderSocket = await openSocket(bystander.access_token);
    const refresh = (token: string) =>
      fetch(`${base}/token`, { method: "POST", body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: token }) });
    expect((await refresh(first.refresh_token)).status).toBe(200);
    expect((await refresh(first.refresh_token)).status).toBe(401);
    await closedWithin(socket);
    expect(await stillOpenAfter(bystanderSocket)).toBe(true);
  });

  it("DELETE /users/me closes every socket of the account", async () => {
    const username = await register();
    const a = await login(username);
    const b = await login(username);
    const sockets = [await openSocket(a.access_token), await openSocket(b.access_token)];
    const res = await fetch(`${base}/users/me`, {
      method: "DELETE",
      headers: { ...authorized(a.access_token), "content-type": "application/json" },
      body: JSON.stringify({ password: TEST_PASSWORD }),
    });
    expect(res.status).toBe(204);
    const closes = await Promise.all(sockets.map((socket) => closedWithin(socket)));
    expect(closes.map((c) => c.reason)).toEqual(["This account has been deleted", "This account has been deleted"]);
  });
});
