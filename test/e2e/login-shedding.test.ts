/**
 * Logins while password hashing is past its budget, over HTTP on the local stack: refused with 503,
 * the detail and a Retry-After before any database work, and a login refused by the hasher itself
 * (it slipped past that first check) gets its throttle attempt back, so shedding never locks a
 * user out with 429. Budget 0 and one thread held by a very slow hash (stopped when done with)
 * make "past the budget" certain.
 */
import { describe, expect, it } from "vitest";

import { closePasswordHasher, getPasswordHasher } from "../../shared/auth/passwords";
import { getPool } from "../../shared/data/db";
import { ERRORS } from "../../shared/domain/errors";
import { useLocalStack } from "../support/stack";

const ATTEMPTS_PER_USER_ADDRESS = 2;
const PASSWORD = "correct horse battery";

const local = useLocalStack({
  env: { PASSWORD_HASH_THREADS: "1", PASSWORD_HASH_MAX_WAIT_MS: "0", LOGIN_FAILURES_PER_USER_ADDRESS: String(ATTEMPTS_PER_USER_ADDRESS) },
  webPubSub: false,
});

async function login(username: string): Promise<{ status: number; retryAfter: string | null; body: unknown }> {
  const res = await fetch(`${local.url}/token`, { method: "POST", body: new URLSearchParams({ username, password: PASSWORD }) });
  return { status: res.status, retryAfter: res.headers.get("retry-after"), body: await res.json() };
}

const loginCounters = async () =>
  Number((await getPool().query("SELECT count(*) FROM rate_limits WHERE key LIKE 'login_user_address%'")).rows[0].count);

describe("logins while password hashing is past its budget", () => {
  it("are refused with 503 + Retry-After before any database work, and a shed attempt is never counted", async () => {
    const registered = await fetch(`${local.url}/users/`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "shed_user", password: PASSWORD }),
    });
    expect(registered.status).toBe(200);
    const hasher = getPasswordHasher();
    const occupied = hasher.hash("holds the only thread", 18).catch(() => "stopped"); // minutes: outlasts the refusals' holds

    for (let i = 0; i <= ATTEMPTS_PER_USER_ADDRESS; i++) {
      expect(await login("shed_user")).toEqual({
        status: 503,
        retryAfter: expect.stringMatching(/^[1-9]\d*$/),
        body: { detail: ERRORS.passwordHashingBusy },
      });
    }
    expect(await loginCounters()).toBe(0); // refused before the throttle was asked

    // Past the first check (as when many logins pass it at once), the hasher refuses; the attempt is given back.
    const early = Object.assign(hasher, { admit: () => Promise.resolve() });
    try {
      for (let i = 0; i <= ATTEMPTS_PER_USER_ADDRESS; i++) {
        expect(await login("shed_user")).toEqual({
          status: 503,
          retryAfter: expect.stringMatching(/^[1-9]\d*$/),
          body: { detail: ERRORS.passwordHashingBusy },
        });
      }
    } finally {
      delete (early as { admit?: unknown }).admit;
    }

    await closePasswordHasher(); // stops the slow hash; the next login gets a fresh pool
    expect(await occupied).toBe("stopped");
    expect((await login("shed_user")).status).toBe(200);
  });
});
