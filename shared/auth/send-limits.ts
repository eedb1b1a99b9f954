/**
 * Limits on sending, counted in PostgreSQL beside the login counters (rate_limits), so every
 * instance shares them: a sender has a burst budget (SEND_LIMIT_BURST a minute) and a sustained one
 * (SEND_LIMIT_PER_HOUR), and a recipient takes SEND_LIMIT_PER_RECIPIENT_PER_HOUR from all senders.
 * A budget is spent only by a send the shorter ones allowed: a client retrying at once past its burst
 * waits out the minute, not the hour, and a sender already refused cannot go on eating the
 * recipient's budget. Past any limit: 429 with Retry-After.
 */
import type { Pool } from "pg";

import { getConfig, type SendLimitSettings } from "../config/config";
import { getPool } from "../data/db";
import { ERRORS } from "../domain/errors";
import { HttpError } from "../http/http";
import { getThrottle, retryAfterSeconds, TABLE } from "./throttle";

const HOUR_MS = 3_600_000;

/**
 * One budget's counter in the login throttle's table and row format (key, points, expire in ms),
 * restarted once its window has passed. `$1` is now; `from` gates the upsert on the budget before it.
 */
const upsert = (name: string, key: number, windowMs: number, from?: { cte: string; limit: number }) => `
  ${name} AS (
    INSERT INTO ${TABLE} (key, points, expire)
    SELECT $${key}::text, 1, $1::bigint + $${windowMs}::bigint ${from ? `FROM ${from.cte} WHERE ${from.cte}.points <= $${from.limit}::int` : ""}
    ON CONFLICT (key) DO UPDATE SET
      points = CASE WHEN ${TABLE}.expire <= $1::bigint THEN 1 ELSE ${TABLE}.points + 1 END,
      expire = CASE WHEN ${TABLE}.expire <= $1 THEN $1::bigint + $${windowMs}::bigint ELSE ${TABLE}.expire END
    RETURNING points, expire)`;

// All three budgets in one round trip, each spent only when the shorter one before it allowed the send.
const COUNT_SEND = `WITH ${upsert("burst", 2, 3)}, ${upsert("hourly", 4, 5, { cte: "burst", limit: 7 })},
  ${upsert("received", 6, 5, { cte: "hourly", limit: 8 })}
  SELECT (SELECT points FROM burst) AS burst, (SELECT expire FROM burst)::float8 AS burst_expire,
    (SELECT points FROM hourly) AS hourly, (SELECT expire FROM hourly)::float8 AS hourly_expire,
    (SELECT points FROM received) AS received, (SELECT expire FROM received)::float8 AS received_expire`;

interface Counts {
  burst: number;
  burst_expire: number;
  hourly: number | null;
  hourly_expire: number | null;
  received: number | null;
  received_expire: number | null;
}

export class SendLimits {
  constructor(
    private readonly pool: Pool,
    readonly settings: SendLimitSettings,
  ) {}

  /** Counts one send from `senderId` to `recipientId`; 429 once any of the limits is spent. */
  async countSend(senderId: number, recipientId: number, now = Date.now()): Promise<void> {
    getThrottle().sweepIfDue();
    const { burst, burstSeconds, perHour, perRecipientPerHour } = this.settings;
    const { rows } = await this.pool.query<Counts>(COUNT_SEND, [
      now,
      `send_burst:${senderId}`,
      burstSeconds * 1000,
      `send_hour:${senderId}`,
      HOUR_MS,
      `receive_hour:${recipientId}`,
      burst,
      perHour,
    ]);
    const counts = rows[0];
    const refused =
      counts.burst > burst
        ? counts.burst_expire
        : counts.hourly! > perHour
          ? counts.hourly_expire
          : counts.received! > perRecipientPerHour
            ? counts.received_expire
            : null;
    if (refused !== null) {
      throw new HttpError(429, ERRORS.tooManyMessages, { "Retry-After": String(retryAfterSeconds(refused - now)) });
    }
  }
}

const limits = new WeakMap<Pool, SendLimits>();

/** The send limits over this instance's pool, rebuilt when the settings change (tests, the local host). */
export function getSendLimits(pool: Pool = getPool(), settings: SendLimitSettings = getConfig().sendLimits): SendLimits {
  const cached = limits.get(pool);
  if (cached?.settings === settings) return cached;
  const created = new SendLimits(pool, settings);
  limits.set(pool, created);
  return created;
}
