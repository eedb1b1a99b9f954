/**
 * Password hashing is shared fairly between client addresses (docs/reliability.md, Abuse: hashing shared fairly), over HTTP
 * on the local stack: while 127.0.0.2 floods correct logins on many connections (ignoring
 * Retry-After, as an attacker would), a user logging in from 127.0.0.3 is never refused. The
 * budget is set from the hash time measured here (4 hashes' wait), so the flood's own backlog
 * (16 connections) is far past it and another address's fair share (about 2 hashes) well within
 * it, whatever this machine's speed. Counts are asserted, not timings.
 */
import { afterAll, describe, expect, it } from "vitest";

import type { WorkerPasswordHasher } from "../../shared/auth/password-hasher";
import { closePasswordHasher, getPasswordHasher } from "../../shared/auth/passwords";
import { resetConfig } from "../../shared/config/config";
import { closeLoginAgents, loginFrom, type LoginAnswer } from "../support/address-login";
import { registerOverHttp, TEST_PASSWORD } from "../support/api";
import { useLocalStack } from "../support/stack";

const FLOOD_CONNECTIONS = 16;
const FLOODER = "127.0.0.2";
const OTHER = "127.0.0.3";
const OTHER_LOGINS = 12;

// One hashing thread and a real bcrypt cost, so that the flood keeps it busy.
const local = useLocalStack({ env: { PASSWORD_HASH_THREADS: "1", BCRYPT_COST: "10" }, webPubSub: false });

afterAll(async () => {
  closeLoginAgents();
  await closePasswordHasher();
});

/** The mean hash time of this machine now, from a few logins. */
async function measuredHashMs(username: string): Promise<number> {
  for (let i = 0; i < 3; i++) expect((await loginFrom(local.url, OTHER, username, TEST_PASSWORD)).status).toBe(200);
  return (getPasswordHasher() as WorkerPasswordHasher).budget.meanHashMs as number;
}

describe("one address flooding correct logins", () => {
  it("never gets another address's login refused", async () => {
    const base = local.url;
    const flooder = await registerOverHttp(base, "flooder");
    const other = await registerOverHttp(base, "bystander");
    const hashMs = await measuredHashMs(other.username);
    process.env.PASSWORD_HASH_MAX_WAIT_MS = String(Math.round(4 * hashMs));
    resetConfig(); // a fresh hasher with that budget
    await measuredHashMs(other.username);

    let flooding = true;
    const flood: LoginAnswer[] = [];
    const loops = Array.from({ length: FLOOD_CONNECTIONS }, async () => {
      while (flooding) flood.push(await loginFrom(base, FLOODER, flooder.username, TEST_PASSWORD));
    });
    try {
      await new Promise((resolve) => setTimeout(resolve, 10 * hashMs)); // the flood's backlog built up
      const answers: LoginAnswer[] = [];
      for (let i = 0; i < OTHER_LOGINS; i++) answers.push(await loginFrom(base, OTHER, other.username, TEST_PASSWORD));
      const floodStatuses = flood.map((a) => a.status);
      expect(floodStatuses.filter((s) => s === 503).length, "the flood is past the budget").toBeGreaterThan(0);
      expect(floodStatuses.filter((s) => s === 200).length, "the flood is being served").toBeGreaterThan(0);
      expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
    } finally {
      flooding = false;
      await Promise.all(loops);
    }
  }, 120_000);
});
