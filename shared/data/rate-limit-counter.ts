/**
 * rate-limiter-flexible's PostgreSQL limiter, with its counting statement made atomic. The
 * library's upsert (11.4.0) adds the new points to a sub-SELECT of the row, which under READ
 * COMMITTED reads the statement's snapshot, not the row it waited to lock: concurrent spends on
 * one key lose increments, and a burst from one client address slipped past its login budget.
 * Here the update adds to the locked row itself, so every spend counts.
 */
import { RateLimiterPostgres } from "rate-limiter-flexible";

/** The counters' table (migration 2). */
export const RATE_LIMITS_TABLE = "rate_limits";

interface LimiterInternals {
  _query(query: { name: string; text: string; values: unknown[] }): Promise<unknown>;
}

export class RateLimitCounter extends RateLimiterPostgres {
  /** Overrides the library's upsert; same arguments and result (the row's points and expire). */
  _upsert(key: string, points: number, msDuration: number, forceExpire = false): Promise<unknown> {
    const now = Date.now();
    const newExpire = msDuration > 0 ? now + msDuration : null;
    const restart = `${RATE_LIMITS_TABLE}.expire <= $4 OR $5`;
    return (this as unknown as LimiterInternals)._query({
      name: "rate-limit-counter-upsert",
      text: `INSERT INTO ${RATE_LIMITS_TABLE} VALUES ($1, $2, $3)
               ON CONFLICT (key) DO UPDATE SET
                 points = CASE WHEN ${restart} THEN $2 ELSE ${RATE_LIMITS_TABLE}.points + $2 END,
                 expire = CASE WHEN ${restart} THEN $3 ELSE ${RATE_LIMITS_TABLE}.expire END
             RETURNING points, expire`,
      values: [key, points, newExpire, now, forceExpire],
    });
  }
}

/**
 * A budget's counter in rate_limits as a CTE named `name` (key, points, expire in ms), restarted
 * once its window has passed; the update adds to the locked row, as above. Each argument is SQL:
 * `now` and `windowMs` in ms, `points` spent, `from` the rest of the SELECT that yields `key`.
 * RETURNING points, expire.
 */
export function budgetSpend(spend: { name: string; key: string; points: string; now: string; windowMs: string; from?: string }): string {
  const { name, key, points, now, windowMs, from = "" } = spend;
  const restart = `${RATE_LIMITS_TABLE}.expire <= ${now}::bigint`;
  return `
  ${name} AS (
    INSERT INTO ${RATE_LIMITS_TABLE} (key, points, expire)
    SELECT ${key}, ${points}::int, ${now}::bigint + ${windowMs}::bigint ${from}
    ON CONFLICT (key) DO UPDATE SET
      points = CASE WHEN ${restart} THEN ${points}::int ELSE ${RATE_LIMITS_TABLE}.points + ${points}::int END,
      expire = CASE WHEN ${restart} THEN ${now}::bigint + ${windowMs}::bigint ELSE ${RATE_LIMITS_TABLE}.expire END
    RETURNING points, expire)`;
}
