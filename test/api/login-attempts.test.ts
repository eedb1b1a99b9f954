/**
 * Login budgets at their production values (docs/reliability.md, Abuse: login throttling): every attempt, right or
 * wrong, counts against the account and against the client's address; and a client whose address
 * is unknown shares no per-address bucket with the others, while the per-account rule still holds.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { tokenCreate } from "../../functions/token-create";
import { usersCreate } from "../../functions/users-create";
import { resetConfig } from "../../shared/config/config";
import { ERRORS } from "../../shared/domain/errors";
import { useTestDatabase, type TestDatabase } from "../support/database";
import { call, type CallResult } from "../support/http";

// The production defaults (shared/config/config.ts); the tests below hold exactly these.
const PER_ACCOUNT = 30;
const PER_ADDRESS = 300;
const WINDOW_SECONDS = 900;
const FAILURES_PER_ADDRESS = 100;
const REGISTRATIONS_PER_ADDRESS = 20;
const PASSWORD = "correct horse battery";

let db: TestDatabase;

beforeAll(async () => {
  // test/support/env.ts lifts these for the other suites.
  for (const name of [
    "LOGIN_ATTEMPTS_PER_ACCOUNT",
    "LOGIN_ATTEMPTS_PER_ADDRESS",
    "LOGIN_FAILURES_PER_ADDRESS",
    "LOGIN_FAILURES_PER_USER_ADDRESS",
    "REGISTRATIONS_PER_ADDRESS",
  ]) {
    delete process.env[name];
  }
  resetConfig();
  db = await useTestDatabase();
});
afterAll(async () => {
  await db.close();
});

/** Headers as Azure's front end sends them for this address; none at all for an unknown one. */
const from = (address?: string): Record<string, string> => (address ? { "x-forwarded-for": `${address}:40000` } : {});

const register = (username: string, address?: string) =>
  call(usersCreate, { method: "POST", headers: from(address), json: { username, password: PASSWORD } });

const login = (username: string, password: string, address?: string): Promise<CallResult> =>
  call(tokenCreate, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...from(address) },
    body: new URLSearchParams({ username, password }).toString(),
  });

let setupAddress = 0;
/** Registers from an address of its own, so setup spends no tested counter. */
async function newAccount(username: string): Promise<string> {
  const res = await register(username, `192.0.2.${++setupAddress}`);
  expect(res.status, res.text).toBe(200);
  return username;
}

function expectTooMany(res: CallResult): void {
  expect(res.status, res.text).toBe(429);
  expect(res.body).toEqual({ detail: ERRORS.tooManyLogins });
  const retryAfter = Number(res.headers.get("retry-after"));
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(WINDOW_SECONDS);
}

describe("every login attempt counts", () => {
  it("correct logins spend the account's budget, from whatever address", async () => {
    const account = await newAccount("right_every_time");
    for (let i = 0; i < PER_ACCOUNT; i++) expect((await login(account, PASSWORD, `198.51.100.${i + 1}`)).status).toBe(200);
    expectTooMany(await login(account, PASSWORD, "198.51.100.200"));
  });

  it("correct logins spend the address's budget, across accounts", async () => {
    const accounts = await Promise.all(Array.from({ length: PER_ADDRESS / PER_ACCOUNT + 1 }, (_, i) => newAccount(`office_${i}`)));
    const statuses: number[] = [];
    for (const account of accounts.slice(0, -1)) {
      for (let i = 0; i < PER_ACCOUNT; i += 10) {
        statuses.push(
          ...(await Promise.all(Array.from({ length: 10 }, async () => (await login(account, PASSWORD, "203.0.113.7")).status))),
        );
      }
    }
    expect(statuses).toEqual(statuses.map(() => 200));
    expect(statuses).toHaveLength(PER_ADDRESS);
    expectTooMany(await login(accounts[accounts.length - 1], PASSWORD, "203.0.113.7"));
    expect((await login(accounts[accounts.length - 1], PASSWORD, "203.0.113.8")).status).toBe(200);
  });
});

describe("clients whose address is unknown", () => {
  it("share no per-address bucket: failures by some never lock the others out", async () => {
    const victims = await Promise.all(Array.from({ length: FAILURES_PER_ADDRESS / 5 }, (_, i) => newAccount(`guessed_${i}`)));
    for (const victim of victims) {
      for (let i = 0; i < 5; i++) expect((await login(victim, "wrong password", undefined)).status).toBe(401);
    }
    const bystander = await newAccount("unknown_bystander");
    expect((await login(bystander, PASSWORD, undefined)).status).toBe(200);
  });

  it("share no per-address registration bucket either", async () => {
    for (let i = 0; i <= REGISTRATIONS_PER_ADDRESS; i++) expect((await register(`anonymous_${i}`)).status).toBe(200);
  });

  it("are still held to the per-account budget", async () => {
    const account = await newAccount("unknown_target");
    for (let i = 0; i < PER_ACCOUNT; i++) expect((await login(account, PASSWORD, undefined)).status).toBe(200);
    expectTooMany(await login(account, PASSWORD, undefined));
  });
});
