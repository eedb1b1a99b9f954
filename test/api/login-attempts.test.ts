/**
 * Login budgets at their production values (docs/reliability.md, Abuse: login throttling): every attempt, right or
 * wrong, counts against the account and against the client's address; and a client whose address
 * is unknown shares no per-address bucket with the others, while the per-account rule still holds.
 */
import { describe, expect, it } from "vitest";

import { expectTooManyLogins, login, newAccount, PASSWORD, register, useProductionLoginLimits } from "../support/production-logins";

// The production defaults (shared/config/config.ts); the tests below hold exactly these.
const PER_ACCOUNT = 30;
const PER_ADDRESS = 300;
const FAILURES_PER_ADDRESS = 100;
const REGISTRATIONS_PER_ADDRESS = 20;

useProductionLoginLimits();

describe("every login attempt counts", () => {
  it("correct logins spend the account's budget, from whatever address", async () => {
    const account = "right_every_time";
    await newAccount(account);
    for (let i = 0; i < PER_ACCOUNT; i++) expect((await login(account, PASSWORD, `198.51.100.${i + 1}`)).status).toBe(200);
    expectTooManyLogins(await login(account, PASSWORD, "198.51.100.200"));
  });

  it("correct logins spend the address's budget, across accounts", async () => {
    const accounts = Array.from({ length: PER_ADDRESS / PER_ACCOUNT + 1 }, (_, i) => `office_${i}`);
    await Promise.all(accounts.map(newAccount));
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
    expectTooManyLogins(await login(accounts[accounts.length - 1], PASSWORD, "203.0.113.7"));
    expect((await login(accounts[accounts.length - 1], PASSWORD, "203.0.113.8")).status).toBe(200);
  });
});

describe("clients whose address is unknown", () => {
  it("share no per-address bucket: failures by some never lock the others out", async () => {
    const victims = Array.from({ length: FAILURES_PER_ADDRESS / 5 }, (_, i) => `guessed_${i}`);
    await Promise.all(victims.map(newAccount));
    for (const victim of victims) {
      for (let i = 0; i < 5; i++) expect((await login(victim, "wrong password", undefined)).status).toBe(401);
    }
    const bystander = "unknown_bystander";
    await newAccount(bystander);
    expect((await login(bystander, PASSWORD, undefined)).status).toBe(200);
  });

  it("share no per-address registration bucket either", async () => {
    for (let i = 0; i <= REGISTRATIONS_PER_ADDRESS; i++) expect((await register(`anonymous_${i}`)).status).toBe(200);
  });

  it("are still held to the per-account budget", async () => {
    const account = "unknown_target";
    await newAccount(account);
    for (let i = 0; i < PER_ACCOUNT; i++) expect((await login(account, PASSWORD, undefined)).status).toBe(200);
    expectTooManyLogins(await login(account, PASSWORD, undefined));
  });
});
