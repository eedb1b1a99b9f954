/**
 * Login and registration throttling (docs/reliability.md, Abuse: login throttling): counted in the database per
 * username+address and per address, 429 with Retry-After, never locking the owner out from
 * another address, shared by every instance.
 */
import { Pool } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { tokenCreate } from "../../functions/token-create";
import { usersCreate } from "../../functions/users-create";
import { loginAccountKey, retryAfterSeconds, Throttle } from "../../shared/auth/throttle";
import { parseConfig, resetConfig, type ThrottleSettings } from "../../shared/config/config";
import { getPool } from "../../shared/data/db";
import { isDatabaseUnavailable } from "../../shared/data/db-errors";
import { ERRORS } from "../../shared/domain/errors";
import { useTestDatabase, type TestDatabase } from "../support/database";
import { call, type CallResult } from "../support/http";
import { raceBehindLocks } from "../support/lock-barrier";

// The limits as deployed: the code's defaults, with none of the relaxed values other suites (test/support/env.ts) or
// local.settings.example.json use.
const THROTTLE_SETTINGS = [
  "LOGIN_FAILURES_PER_USER_ADDRESS",
  "LOGIN_FAILURES_PER_ADDRESS",
  "LOGIN_FAILURE_WINDOW_SECONDS",
  "LOGIN_BLOCK_SECONDS",
  "REGISTRATIONS_PER_ADDRESS",
  "REGISTRATION_WINDOW_SECONDS",
];
const PRODUCTION = parseConfig({ SECRET_KEY: process.env.SECRET_KEY, DATABASE_URL: process.env.DATABASE_URL }).throttle;
const PER_USER_ADDRESS = PRODUCTION.login.failuresPerUserAddress;
const PER_ADDRESS = PRODUCTION.login.failuresPerAddress;
const REGISTRATIONS = PRODUCTION.registration.perAddress;
const BLOCK_SECONDS = PRODUCTION.login.blockSeconds;
const WINDOW_SECONDS = PRODUCTION.login.windowSeconds;
const PASSWORD = "correct horse battery";

let db: TestDatabase;

/** A client with no device token logging in to a name no account has. */
const client = (address: string, name: string) => ({ address, account: loginAccountKey(null, name), device: null });

beforeAll(async () => {
  for (const name of THROTTLE_SETTINGS) delete process.env[name];
  resetConfig();
  db = await useTestDatabase();
});
afterAll(async () => {
  await db.close();
});

// As Azure delivers it: whatever the client wrote, then the address the front end saw, with a port.
let forged = 0;
const forwardedFor = (address: string) => `203.0.113.${++forged % 250}, ${address}:${40000 + forged}`;

const register = (username: string, address: string) =>
  call(usersCreate, { method: "POST", headers: { "x-forwarded-for": forwardedFor(address) }, json: { username, password: PASSWORD } });

const login = (username: string, password: string, address: string) =>
  call(tokenCreate, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", "x-forwarded-for": forwardedFor(address) },
    body: new URLSearchParams({ username, password }).toString(),
  });

let setupAddress = 0;
/** Registers through the API from an address of its own, so setup never spends a tested counter. */
async function newUser(username: string): Promise<void> {
  const res = await register(username, `192.0.2.${++setupAddress}`);
  expect(res.status, res.text).toBe(200);
}

function expectTooMany(res: CallResult, detail: string, maxSeconds: number): void {
  expect(res.status, res.text).toBe(429);
  expect(res.body).toEqual({ detail });
  const retryAfter = res.headers.get("retry-after") ?? "";
  expect(retryAfter).toMatch(/^[1-9]\d*$/);
  expect(Number(retryAfter)).toBeLessThanOrEqual(maxSeconds);
}

describe("POST /token throttling", () => {
  it("answers 429 with Retry-After after repeated failures for one username from one address", async () => {
    await newUser("victim");
    for (let i = 0; i < PER_USER_ADDRESS; i++) expect((await login("victim", "wrong password", "198.51.100.1")).status).toBe(401);
    expectTooMany(await login("victim", "wrong password", "198.51.100.1"), ERRORS.tooManyLogins, BLOCK_SECONDS);
    // Blocked means blocked: the right password from that address waits too, and is not even checked.
    expectTooMany(await login("victim", PASSWORD, "198.51.100.1"), ERRORS.tooManyLogins, BLOCK_SECONDS);
  });

  it("never locks the owner out from another address while the attacker is blocked", async () => {
    await newUser("owner");
    for (let i = 0; i < PER_USER_ADDRESS; i++) await login("owner", "guess", "198.51.100.2");
    expectTooMany(await login("owner", "guess", "198.51.100.2"), ERRORS.tooManyLogins, BLOCK_SECONDS);
    expect((await login("owner", PASSWORD, "198.51.100.3")).status).toBe(200);
    expect((await login("owner", PASSWORD, "198.51.100.2")).status).toBe(429);
  });

  it("answers 429 after many failures from one address across usernames, unknown ones included", async () => {
    for (let i = 0; i < PER_ADDRESS; i++) expect((await login(`sprayed_${i}`, "Summer2024!", "198.51.100.4")).status).toBe(401);
    expectTooMany(await login("sprayed_next", "Summer2024!", "198.51.100.4"), ERRORS.tooManyLogins, BLOCK_SECONDS);
    expect((await login("sprayed_next", "Summer2024!", "198.51.100.5")).status).toBe(401);
  });

  it("counts a username regardless of case and surrounding spaces", async () => {
    await newUser("Carol");
    const spellings = ["carol", "CAROL", " Carol "];
    for (let i = 0; i < PER_USER_ADDRESS; i++)
      expect((await login(spellings[i % spellings.length], "nope", "198.51.100.6")).status).toBe(401);
    expect((await login("cArOl", PASSWORD, "198.51.100.6")).status).toBe(429);
  });

  it("forgives a username's failures from an address once the right password is given", async () => {
    await newUser("forgetful");
    const address = "198.51.100.7";
    for (let i = 0; i < PER_USER_ADDRESS - 1; i++) expect((await login("forgetful", "typo", address)).status).toBe(401);
    expect((await login("forgetful", PASSWORD, address)).status).toBe(200);
    // Without the reset the next failure would be the fourth in a row and get 429.
    for (let i = 0; i < PER_USER_ADDRESS; i++) expect((await login("forgetful", "typo", address)).status).toBe(401);
    expect((await login("forgetful", "typo", address)).status).toBe(429);
  });

  it("does not count successful logins against the address (a shared office address keeps working)", async () => {
    await newUser("office");
    for (let i = 0; i < PER_ADDRESS * 2; i++) expect((await login("office", PASSWORD, "198.51.100.8")).status).toBe(200);
  });

  it("does not let logins to an account of one's own buy more guesses from that address", async () => {
    await newUser("mallory");
    const address = "198.51.100.10";
    for (let i = 0; i < PER_ADDRESS; i++) {
      expect((await login(`target_${i}`, "guess", address)).status).toBe(401);
      if (i < PER_ADDRESS - 1) expect((await login("mallory", PASSWORD, address)).status).toBe(200);
    }
    expectTooMany(await login("target_next", "guess", address), ERRORS.tooManyLogins, BLOCK_SECONDS);
  });

  it("ignores what the client writes into X-Forwarded-For: only the front end's last entry counts", async () => {
    await newUser("spoofed");
    for (let i = 0; i < PER_USER_ADDRESS; i++) {
      const res = await call(tokenCreate, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", "x-forwarded-for": `10.0.0.${i}, 198.51.100.9:${5000 + i}` },
        body: new URLSearchParams({ username: "spoofed", password: "wrong" }).toString(),
      });
      expect(res.status).toBe(401);
    }
    expect((await login("spoofed", "wrong", "198.51.100.9")).status).toBe(429);
  });
});

describe("POST /users/ throttling", () => {
  it("answers 429 with Retry-After after too many registrations from one address", async () => {
    for (let i = 0; i < REGISTRATIONS; i++) expect((await register(`signup_${i}`, "198.51.100.20")).status).toBe(200);
    expectTooMany(await register("signup_more", "198.51.100.20"), ERRORS.tooManyRegistrations, WINDOW_SECONDS);
    expect((await register("signup_more", "198.51.100.21")).status).toBe(200);
  });
});

describe("the counters", () => {
  const settings: ThrottleSettings = {
    login: {
      failuresPerUserAddress: PER_USER_ADDRESS,
      failuresPerAddress: 1000,
      windowSeconds: WINDOW_SECONDS,
      blockSeconds: BLOCK_SECONDS,
    },
    registration: { perAddress: REGISTRATIONS, windowSeconds: WINDOW_SECONDS },
    attempts: { perAccount: 1_000_000, perAddress: 1_000_000, windowSeconds: WINDOW_SECONDS },
  };

  it("are shared by every instance: two pools against one database count together", async () => {
    const pools = [new Pool({ connectionString: db.url, max: 2 }), new Pool({ connectionString: db.url, max: 2 })];
    try {
      const [first, second] = pools.map((pool) => new Throttle(pool, settings));
      for (let i = 0; i < PER_USER_ADDRESS; i++) await (i % 2 ? second : first).beginLogin(client("198.51.100.30", "shared"));
      await expect(second.beginLogin(client("198.51.100.30", "shared"))).rejects.toMatchObject({ status: 429 });
      await expect(first.beginLogin(client("198.51.100.30", "shared"))).rejects.toMatchObject({ status: 429 });

      for (let i = 0; i < REGISTRATIONS; i++) await (i % 2 ? first : second).countRegistration("198.51.100.31");
      await expect(first.countRegistration("198.51.100.31")).rejects.toMatchObject({ status: 429 });
    } finally {
      await Promise.all(pools.map((pool) => pool.end()));
    }
  });

  it("let no more than the limit through when a burst arrives at once on two instances", async () => {
    const pools = [new Pool({ connectionString: db.url, max: 4 }), new Pool({ connectionString: db.url, max: 4 })];
    const burst = client("198.51.100.32", "burst");
    try {
      const throttles = pools.map((pool) => new Throttle(pool, settings));
      await throttles[0].beginLogin(burst);
      // The burst's spends on the username+address counter queue behind a lock on it, then all meet it at once:
      // each statement took its snapshot before any of the others counted.
      const outcomes = await raceBehindLocks(db.url, "SELECT FROM rate_limits WHERE key LIKE 'login_user_address:%' FOR UPDATE", 8, () =>
        Promise.allSettled(Array.from({ length: PER_USER_ADDRESS * 2 }, (_, i) => throttles[i % 2].beginLogin(burst))),
      );
      expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(PER_USER_ADDRESS - 1);
      for (const o of outcomes) if (o.status === "rejected") expect(o.reason).toMatchObject({ status: 429 });
    } finally {
      await Promise.all(pools.map((pool) => pool.end()));
    }
  });

  it("fail closed: a database that cannot be reached refuses the attempt with a 503 error", async () => {
    const dead = new Pool({ connectionString: "postgresql://postgres@127.0.0.1:1/none", connectionTimeoutMillis: 500 });
    try {
      const error = await new Throttle(dead, settings).beginLogin(client("198.51.100.33", "anyone")).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).not.toBeNull();
      expect(isDatabaseUnavailable(error)).toBe(true);
    } finally {
      await dead.end();
    }
  });

  it("sweep expired rows only, through the expire index", async () => {
    const throttle = new Throttle(getPool(), settings);
    await throttle.countRegistration("198.51.100.40");
    const count = async () => Number((await getPool().query("SELECT count(*) AS n FROM rate_limits")).rows[0].n);
    const before = await count();
    expect(before).toBeGreaterThan(0);
    expect(await throttle.sweepExpired(Date.now())).toBe(0);
    expect(await throttle.sweepExpired(Date.now() + (WINDOW_SECONDS + BLOCK_SECONDS + 60) * 1000)).toBe(before);
    expect(await count()).toBe(0);

    const client = await getPool().connect();
    try {
      await client.query("SET enable_seqscan = off");
      const plan = await client.query(`EXPLAIN DELETE FROM rate_limits WHERE expire < ${Date.now()}`);
      expect(plan.rows.map((r: Record<string, string>) => r["QUERY PLAN"]).join("\n")).toContain("rate_limits_expire_idx");
    } finally {
      await client.query("RESET enable_seqscan");
      client.release();
    }
  });

  it("turn milliseconds into a whole, positive Retry-After", () => {
    expect(retryAfterSeconds(1)).toBe(1);
    expect(retryAfterSeconds(0)).toBe(1);
    expect(retryAfterSeconds(1000)).toBe(1);
    expect(retryAfterSeconds(1001)).toBe(2);
    expect(retryAfterSeconds(899_500)).toBe(900);
  });
});
