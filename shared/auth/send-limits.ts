/**
 * Limits on sending, counted in PostgreSQL beside the login counters (rate_limits), so every
 * instance shares them: a sender has a burst budget (SEND_LIMIT_BURST a minute) and a sustained one
 * (SEND_LIMIT_PER_HOUR), and a recipient takes SEND_LIMIT_PER_RECIPIENT_PER_HOUR from all senders.
 * The sender's budgets are spent before any other work, the hourly one only by a send the burst
 * allowed (a client retrying at once past its burst waits out the minute, not the hour). A
 * recipient's budget is spent only by a message stored for them, inside the send's transaction:
 * a refused send (404, 410, 422, 429) rolls back and spends nothing of anyone else's, so refused
 * sends cannot cut a recipient off. Past any limit: 429 with Retry-After.
 */
import type { Pool } from "pg";

import { getConfig, type SendLimitSettings } from "../config/config";
import { getPool, perPool, type Queryable } from "../data/db";
import { ERRORS, HttpError } from "../domain/errors";
import { getThrottle, retryAfterSeconds, TABLE } from "./throttle";

const HOUR_MS = 3_600_000;

/**
 * A budget's counter in the login throttle's table and row format (key, points, expire in ms),
 * restarted once its window has passed. `$1` is now, `$2` the points spent; `from` is the rest of
 * the SELECT that yields the keys (a gate on the budget before it, or a list).
 */
const upsert = (name: string, key: string, windowMs: string, from = "") => `
  ${name} AS (
    INSERT INTO ${TABLE} (key, points, expire)
    SELECT ${key}, $2::int, $1::bigint + ${windowMs}::bigint ${from}
    ON CONFLICT (key) DO UPDATE SET
      points = CASE WHEN ${TABLE}.expire <= $1::bigint THEN $2::int ELSE ${TABLE}.points + $2::int END,
      expire = CASE WHEN ${TABLE}.expire <= $1 THEN $1::bigint + ${windowMs}::bigint ELSE ${TABLE}.expire END
    RETURNING points, expire)`;

// Both sender budgets in one round trip, the hourly one spent only when the burst allowed the send.
const SPEND_SENDER = `WITH ${upsert("burst", "$3::text", "$4")},
  ${upsert("hourly", "$5::text", "$6", "FROM burst WHERE burst.points <= $7::int")}
  SELECT (SELECT points FROM burst) AS burst, (SELECT expire FROM burst)::float8 AS burst_expire,
    (SELECT points FROM hourly) AS hourly, (SELECT expire FROM hourly)::float8 AS hourly_expire`;

// Every stored recipient's budget in one statement, in key order so concurrent sends lock the rows alike.
const SPEND_RECIPIENTS = `WITH ${upsert("received", "k", "$4", "FROM (SELECT DISTINCT unnest($3::text[]) AS k ORDER BY k) keys")}
  SELECT points, expire::float8 AS expire FROM received`;

interface SenderCounts {
  burst: number;
  burst_expire: number;
  hourly: number | null;
  hourly_expire: number | null;
}

const tooManyMessages = (expire: number, now: number) =>
  new HttpError(429, ERRORS.tooManyMessages, { "Retry-After": String(retryAfterSeconds(expire - now)) });

export class SendLimits {
  constructor(
    private readonly pool: Pool,
    readonly settings: SendLimitSettings,
  ) {}

  /**
   * Spends the sender's burst and hourly budgets, one point per recipient addressed; 429 once either
   * is spent. Call before any other work of a send.
   */
  async spendSenderBudget(senderId: number, recipients = 1, now = Date.now()): Promise<void> {
    getThrottle().sweepIfDue();
    const { burst, burstSeconds, perHour } = this.settings;
    const { rows } = await this.pool.query<SenderCounts>(SPEND_SENDER, [
      now,
      recipients,
      `send_burst:${senderId}`,
      burstSeconds * 1000,
      `send_hour:${senderId}`,
      HOUR_MS,
      burst,
    ]);
    const counts = rows[0];
    if (counts.burst > burst) throw tooManyMessages(counts.burst_expire, now);
    if (counts.hourly! > perHour) throw tooManyMessages(counts.hourly_expire!, now);
  }

  /**
   * Spends one point of each recipient's hourly budget for a message stored for them. Call inside
   * the send's transaction, after the insert: a 429 (any recipient's budget spent) or any later
   * failure rolls the points back with the message. A recipient listed twice counts once.
   */
  async spendRecipientBudgets(tx: Queryable, recipientIds: readonly number[], now = Date.now()): Promise<void> {
    if (recipientIds.length === 0) return;
    const keys = recipientIds.map((id) => `receive_hour:${id}`);
    const { rows } = await tx.query<{ points: number; expire: number }>(SPEND_RECIPIENTS, [now, 1, keys, HOUR_MS]);
    const refused = rows.filter((r) => r.points > this.settings.perRecipientPerHour);
    if (refused.length > 0) throw tooManyMessages(Math.max(...refused.map((r) => r.expire)), now);
  }
}

const sendLimitsFor = perPool((pool, settings: SendLimitSettings) => new SendLimits(pool, settings));

/** The send limits over this instance's pool, rebuilt when the settings change (tests, the local host). */
export function getSendLimits(pool: Pool = getPool(), settings: SendLimitSettings = getConfig().sendLimits): SendLimits {
  return sendLimitsFor(pool, settings);
}
