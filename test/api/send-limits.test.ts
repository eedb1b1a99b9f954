/**
 * Send limits (docs/reliability.md, Abuse: send limits) at their production values: a sender's burst and hourly
 * budgets and a recipient's hourly budget, counted in the database, 429 with Retry-After. A minute
 * passing is simulated by deleting the burst counters, as their expiry would.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { messagesSend } from "../../functions/messages-send";
import { resetConfig, SEND_LIMITS } from "../../shared/config/config";
import { getPool } from "../../shared/data/db";
import { ERRORS } from "../../shared/domain/errors";
import { useTestDatabase, type TestDatabase } from "../support/database";
import { call, type CallResult } from "../support/http";
import { raceBehindLocks } from "../support/lock-barrier";
import { withStatements } from "../support/statements";
import { newUser, type TestUser } from "../support/users";

let db: TestDatabase;

beforeAll(async () => {
  // test/support/env.ts lifts the limits for the other suites; these tests hold the production ones.
  for (const name of ["SEND_LIMIT_BURST", "SEND_LIMIT_PER_HOUR", "SEND_LIMIT_PER_RECIPIENT_PER_HOUR"]) delete process.env[name];
  resetConfig();
  db = await useTestDatabase();
});
afterAll(async () => {
  await db.close();
});

const send = (from: TestUser, to: TestUser, title = "hello"): Promise<CallResult> =>
  call(messagesSend, { method: "POST", token: from.token, json: { recipient_id: to.id, title, body: "body" } });

/** Sends `count` messages, `parallel` at a time; the statuses in order. */
async function sendMany(from: TestUser, to: TestUser, count: number, parallel = 1): Promise<CallResult[]> {
  const results: CallResult[] = [];
  for (let i = 0; i < count; i += parallel) {
    results.push(...(await Promise.all(Array.from({ length: Math.min(parallel, count - i) }, (_, j) => send(from, to, `m${i + j}`)))));
  }
  return results;
}

/** The points in the sender's burst counter (0 when it has none). */
const burstPoints = async (sender: TestUser): Promise<number> =>
  (await getPool().query("SELECT points FROM rate_limits WHERE key = $1", [`send_burst:${sender.id}`])).rows[0]?.points ?? 0;

/** What a minute's passing does to the burst counters. */
const burstWindowPasses = () => getPool().query("DELETE FROM rate_limits WHERE key LIKE 'send_burst%'");

function expectTooMany(res: CallResult, atMostSeconds: number): void {
  expect(res.status, res.text).toBe(429);
  expect(res.body).toEqual({ detail: ERRORS.tooManyMessages });
  const retryAfter = Number(res.headers.get("retry-after"));
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(atMostSeconds);
}

describe("send limits at their production values", () => {
  it("let a burst of 300 through only up to the burst, then 429 with Retry-After; another sender is unaffected", async () => {
    const [flooder, victim, other] = [await newUser("flood"), await newUser("victim"), await newUser("other")];
    const first = await send(flooder, victim);
    // The rest queue behind a held lock on the burst counter, then meet it at once (the pool's 5 connections).
    const rest = await raceBehindLocks(db.url, "SELECT FROM rate_limits WHERE key LIKE 'send_burst%' FOR UPDATE", 5, () =>
      sendMany(flooder, victim, 299, 10),
    );
    const results = [first, ...rest];
    const sent = results.filter((r) => r.status === 200).length;
    expect(sent).toBe(SEND_LIMITS.burst);
    for (const refused of results.filter((r) => r.status !== 200)) expectTooMany(refused, SEND_LIMITS.burstSeconds);
    expect(Number((await getPool().query("SELECT count(*) FROM messages WHERE sender_id = $1", [flooder.id])).rows[0].count)).toBe(
      SEND_LIMITS.burst,
    );

    expect((await send(other, victim)).status).toBe(200);
    expect((await send(other, flooder)).status).toBe(200);
  });

  it("hold a sender to the hourly budget across bursts", async () => {
    const [sender, recipient] = [await newUser("steady"), await newUser("steady_to")];
    let sent = 0;
    while (sent < SEND_LIMITS.perHour) {
      await burstWindowPasses();
      const results = await sendMany(sender, recipient, Math.min(SEND_LIMITS.burst, SEND_LIMITS.perHour - sent));
      expect(results.every((r) => r.status === 200)).toBe(true);
      sent += results.length;
    }
    await burstWindowPasses();
    const refused = await send(sender, recipient);
    expectTooMany(refused, 3600);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(SEND_LIMITS.burstSeconds);
  });

  it("hold a recipient to the hourly budget from all senders together; other recipients are unaffected", async () => {
    const target = await newUser("target");
    let received = 0;
    while (received < SEND_LIMITS.perRecipientPerHour) {
      const sender = await newUser("crowd");
      for (let i = 0; i < SEND_LIMITS.perHour && received < SEND_LIMITS.perRecipientPerHour; i += SEND_LIMITS.burst) {
        await burstWindowPasses();
        const results = await sendMany(sender, target, Math.min(SEND_LIMITS.burst, SEND_LIMITS.perRecipientPerHour - received), 5);
        expect(results.map((r) => r.status)).toEqual(results.map(() => 200));
        received += results.length;
      }
    }
    const late = await newUser("late");
    expectTooMany(await send(late, target), 3600);
    // The refusal rolled the send's statement back, yet the attempt cost its sender a point.
    expect(await burstPoints(late)).toBe(1);
    expect((await send(late, await newUser("elsewhere"))).status).toBe(200);
    expect(await burstPoints(late)).toBe(2);
    // The refused send rolled back with its point: the budget holds exactly what was stored.
    const { rows } = await getPool().query("SELECT points FROM rate_limits WHERE key = $1", [`receive_hour:${target.id}`]);
    expect(rows[0].points).toBe(SEND_LIMITS.perRecipientPerHour);
    const stored = await getPool().query("SELECT count(*)::int AS n FROM messages WHERE recipient_id = $1", [target.id]);
    expect(stored.rows[0].n).toBe(SEND_LIMITS.perRecipientPerHour);
  });

  it("refuse a sender past its burst without the work of a send: once refused, its sends spend the budget first", async () => {
    const [eager, friend] = [await newUser("eager"), await newUser("eager_to")];
    expect((await sendMany(eager, friend, SEND_LIMITS.burst)).map((r) => r.status)).toEqual(Array(SEND_LIMITS.burst).fill(200));
    expectTooMany(await send(eager, friend), SEND_LIMITS.burstSeconds);
    const { result, statements } = await withStatements(() => send(eager, friend));
    expectTooMany(result, SEND_LIMITS.burstSeconds);
    // The user and session, then the budget's own statement: nothing stored and rolled back.
    expect(statements).toHaveLength(2);
    expect(statements.join("\n")).not.toMatch(/INSERT INTO messages/);
    await burstWindowPasses();
    expect((await send(eager, friend)).status).toBe(200);
    expect(Number((await getPool().query("SELECT count(*) FROM messages WHERE sender_id = $1", [eager.id])).rows[0].count)).toBe(
      SEND_LIMITS.burst + 1,
    );
  });

  it("spend the sender's burst on sends to nobody: probing for ids costs as much as sending", async () => {
    const [prober, real] = [await newUser("prober"), await newUser("real")];
    const nobody = 2_147_483_000;
    const results = await Promise.all(
      Array.from({ length: SEND_LIMITS.burst }, () =>
        call(messagesSend, { method: "POST", token: prober.token, json: { recipient_id: nobody, title: "t", body: "b" } }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(results.map(() => 404));
    expectTooMany(await send(prober, real), SEND_LIMITS.burstSeconds);
    expect(Number((await getPool().query("SELECT count(*) FROM messages WHERE sender_id = $1", [prober.id])).rows[0].count)).toBe(0);
  });

  it("spend nothing of a recipient's budget on refused sends (10 senders, 20 replies to no message each)", async () => {
    const [victim, friend] = [await newUser("cutoff"), await newUser("friend")];
    const noSuchMessage = 2_147_483_000;
    for (let s = 0; s < 10; s++) {
      const attacker = await newUser("refused");
      for (let i = 0; i < SEND_LIMITS.burst; i += 5) {
        const results = await Promise.all(
          Array.from({ length: 5 }, () =>
            call(messagesSend, {
              method: "POST",
              token: attacker.token,
              json: { recipient_id: victim.id, title: "t", body: "b", in_reply_to: noSuchMessage },
            }),
          ),
        );
        expect(results.map((r) => r.status)).toEqual([404, 404, 404, 404, 404]);
      }
    }
    const res = await send(friend, victim);
    expect(res.status, res.text).toBe(200);
  });
});
