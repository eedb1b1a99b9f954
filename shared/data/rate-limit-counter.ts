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

/** A sender's two budgets as spent in one statement (see senderBudgetCtes): each value is SQL. */
export interface SenderSpendSql {
  now: string;
  points: string;
  /** NULL: nothing is spent (both CTEs yield no row). */
  burstKey: string;
  burstWindowMs: string;
  burstLimit: string;
  hourlyKey: string;
  hourlyWindowMs: string;
  hourlyLimit: string;
}

/**
 * The sender's burst and hourly budgets as CTEs `burst` and `hourly` (RETURNING points, expire):
 * the hourly one is spent only by a send the burst allowed, so a client retrying at once past its
 * burst waits out the minute, not the hour.
 */
export function senderBudgetCtes(s: SenderSpendSql): string {
  const spend = (name: string, key: string, windowMs: string, from: string) =>
    budgetSpend({ name, key, points: s.points, now: s.now, windowMs, from });
  return `${spend("burst", s.burstKey, s.burstWindowMs, `WHERE ${s.burstKey} IS NOT NULL`)},
  ${spend("hourly", s.hourlyKey, s.hourlyWindowMs, `FROM burst WHERE burst.points <= ${s.burstLimit}`)}`;
}

/** A sender's budgets for one send (shared/auth/send-limits.ts sets them). */
export interface SenderBudget {
  now: number;
  /** One point for each recipient addressed. */
  points: number;
  burst: { key: string; windowMs: number; limit: number };
  hourly: { key: string; windowMs: number; limit: number };
}

/** senderBudgetCtes' values from parameter `$first` on, in the order senderSpendValues gives them. */
export const senderSpendSql = (first: number): SenderSpendSql => ({
  now: `$${first}::bigint`,
  points: `$${first + 1}::int`,
  burstKey: `$${first + 2}::text`,
  burstWindowMs: `$${first + 3}::bigint`,
  burstLimit: `$${first + 4}::int`,
  hourlyKey: `$${first + 5}::text`,
  hourlyWindowMs: `$${first + 6}::bigint`,
  hourlyLimit: `$${first + 7}::int`,
});

/** The values for senderSpendSql's parameters; none spent (all NULL) without a budget. */
export const senderSpendValues = (b: SenderBudget | undefined): unknown[] =>
  b
    ? [b.now, b.points, b.burst.key, b.burst.windowMs, b.burst.limit, b.hourly.key, b.hourly.windowMs, b.hourly.limit]
    : [0, 0, null, 0, 0, null, 0, 0];

/**
 * SQL over senderBudgetCtes: when the budget that refused the send restarts (ms), NULL when both
 * allowed it (or nothing was spent). The one rule, for the budgets' own statement and the send's.
 */
export const senderRefusedUntilSql = (s: SenderSpendSql): string =>
  `(SELECT CASE WHEN b.points > ${s.burstLimit} THEN b.expire ELSE h.expire END
      FROM burst b LEFT JOIN hourly h ON true WHERE b.points > ${s.burstLimit} OR h.points > ${s.hourlyLimit})`;
