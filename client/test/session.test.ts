/**
 * createSession against the real API (local stack) with access tokens that live 3 seconds: it
 * renews before expiry, never presents a refresh token twice (concurrent callers share one
 * renewal), retries once after a 401, and reports a definitive sign-out once.
 */
import { afterEach, describe, expect, it } from "vitest";

import { registerOverHttp, TEST_PASSWORD } from "../../test/support/api.js";
import { useLocalStack } from "../../test/support/stack.js";
import { createSession, SignedOutError, type Session, type SignedOutReason } from "../src/index.js";

const LIFE_S = 3;
const local = useLocalStack({ env: { ACCESS_TOKEN_EXPIRE_MINUTES: String(LIFE_S / 60) } });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let sessions: Session[] = [];
afterEach(() => {
  sessions.forEach((s) => s.stop());
  sessions = [];
});

async function signedIn(name: string, signedOut: SignedOutReason[] = []): Promise<Session> {
  const user = await registerOverHttp(local.url, name);
  const session = createSession({ apiUrl: local.url, onSignedOut: (reason) => signedOut.push(reason) });
  sessions.push(session);
  await session.logIn(user.username, TEST_PASSWORD);
  return session;
}

describe("createSession", () => {
  it("stays signed in across several access-token expiries, renewing before each", async () => {
    const session = await signedIn("cs_renew");
    for (let i = 0; i < 4; i++) {
      const res = await session.fetch("/users/me");
      expect(res.status).toBe(200);
      await sleep(LIFE_S * 500);
    }
    expect(session.renewals).toBeGreaterThanOrEqual(2);
    expect(session.signedIn).toBe(true);
  });

  it("shares one renewal among concurrent callers (a refresh token is never presented twice)", async () => {
    const signedOut: SignedOutReason[] = [];
    const session = await signedIn("cs_concurrent", signedOut);
    session.stop(); // no timed renewal: the eight requests below find the token expired together
    await sleep(LIFE_S * 1000 + 200);
    const answers = await Promise.all(Array.from({ length: 8 }, () => session.fetch("/messages/unread_count/")));
    expect(answers.map((r) => r.status)).toEqual(Array(8).fill(200));
    expect(signedOut).toEqual([]);
    expect(session.renewals).toBe(1);
  });

  it("retries once after a 401 and reports a definitive sign-out once when the session was ended elsewhere", async () => {
    const signedOut: SignedOutReason[] = [];
    const session = await signedIn("cs_elsewhere", signedOut);
    const token = await session.getToken();
    // Another device signs out everywhere.
    const everywhere = await fetch(`${local.url}/users/me/sessions`, { method: "DELETE", headers: { authorization: `Bearer ${token}` } });
    expect(everywhere.status).toBe(204);
    await expect(session.fetch("/users/me")).rejects.toBeInstanceOf(SignedOutError);
    await expect(session.fetch("/users/me")).rejects.toBeInstanceOf(SignedOutError);
    expect(signedOut).toEqual(["refresh_refused"]);
    expect(session.signedIn).toBe(false);
  });

  it("signOut ends the session on the server", async () => {
    const session = await signedIn("cs_signout");
    const token = await session.getToken();
    await session.signOut();
    expect(session.signedIn).toBe(false);
    const res = await fetch(`${local.url}/users/me`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(401);
  });
});
