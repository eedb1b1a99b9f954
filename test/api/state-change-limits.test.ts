/**
 * State changes that push frames (read, unread, mark all read, delete) are limited per user at
 * their production values (attack 4: 100 read/unread toggles sent 200 frames in 2.2 s, so one
 * account could spend Free_F1's day of frames): a burst a minute and a rate an hour, 429 with
 * Retry-After. A minute passing is simulated by deleting the burst counters, as their expiry would.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { messagesDelete } from "../../functions/messages-delete";
import { messagesMarkAllRead } from "../../functions/messages-mark-all-read";
import { messagesMarkRead } from "../../functions/messages-mark-read";
import { messagesMarkUnread } from "../../functions/messages-mark-unread";
import { messagesSend } from "../../functions/messages-send";
import { getConfig, resetConfig } from "../../shared/config/config";
import { getPool } from "../../shared/data/db";
import { ERRORS } from "../../shared/domain/errors";
import { useTestDatabase, type TestDatabase } from "../support/database";
import { call, type CallResult } from "../support/http";
import { newUser, type TestUser } from "../support/users";

let db: TestDatabase;

beforeAll(async () => {
  // test/support/env.ts lifts the limits for the other suites; these tests hold the production ones.
  for (const name of ["STATE_CHANGE_LIMIT_BURST", "STATE_CHANGE_LIMIT_PER_HOUR"]) delete process.env[name];
  resetConfig();
  db = await useTestDatabase();
});
afterAll(async () => {
  await db.close();
});

const limits = () => getConfig().stateChangeLimits;
const burstWindowPasses = () => getPool().query("DELETE FROM rate_limits WHERE key LIKE 'state_burst%'");

async function received(to: TestUser): Promise<number> {
  const from = await newUser("sc_from");
  const res = await call(messagesSend, { method: "POST", token: from.token, json: { recipient_id: to.id, title: "t", body: "b" } });
  expect(res.status, res.text).toBe(200);
  return (res.body as { id: number }).id;
}

const toggle = (user: TestUser, id: number, i: number): Promise<CallResult> =>
  call(i % 2 ? messagesMarkUnread : messagesMarkRead, { method: "PUT", token: user.token, params: { message_id: String(id) } });

function expectTooMany(res: CallResult, atMostSeconds: number): void {
  expect(res.status, res.text).toBe(429);
  expect(res.body).toEqual({ detail: ERRORS.tooManyStateChanges });
  const retryAfter = Number(res.headers.get("retry-after"));
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(atMostSeconds);
}

describe("state changes that push frames", () => {
  it("are limited to a burst a minute: 100 read/unread toggles get the burst through, then 429", async () => {
    const user = await newUser("sc_toggler");
    const id = await received(user);
    const statuses = [];
    for (let i = 0; i < 100; i++) statuses.push((await toggle(user, id, i)).status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(limits().burst);
    expectTooMany(await toggle(user, id, 0), 60);
    // Every kind of change is counted by the same budget.
    expectTooMany(await call(messagesMarkAllRead, { method: "PUT", token: user.token }), 60);
    expectTooMany(await call(messagesDelete, { method: "DELETE", token: user.token, params: { message_id: String(id) } }), 60);
    // Refused by the burst, they spent nothing of the hour.
    const { rows } = await getPool().query("SELECT points FROM rate_limits WHERE key = $1", [`state_hour:${user.id}`]);
    expect(rows[0].points).toBe(limits().burst);
    // Another user is not held back.
    const other = await newUser("sc_other");
    expect((await toggle(other, await received(other), 0)).status).toBe(200);
  });

  it("are held to the hourly rate across bursts", async () => {
    const user = await newUser("sc_steady");
    const id = await received(user);
    for (let done = 0; done < limits().perHour;) {
      await burstWindowPasses();
      for (let i = 0; i < limits().burst && done < limits().perHour; i++, done++) expect((await toggle(user, id, done)).status).toBe(200);
    }
    await burstWindowPasses();
    const refused = await toggle(user, id, 0);
    expectTooMany(refused, 3600);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(60);
  });
});
