/**
 * Limits on sending, counted in PostgreSQL beside the login counters (rate_limits), so every
 * instance shares them: a sender has a burst budget (SEND_LIMIT_BURST a minute) and a sustained one
 * (SEND_LIMIT_PER_HOUR), and a recipient takes SEND_LIMIT_PER_RECIPIENT_PER_HOUR from all senders.
 * A budget is spent only by a send the shorter ones allowed: a client retrying at once past its burst
 * waits out the minute, not the hour, and a sender already refused cannot go on eating the
 * recipient's budget. Past any limit: 429 with Retry-After.
 */
import type { Pool } from "pg";
import { RateLimiterPostgres } from "rate-limiter-flexible";

import { getConfig, type SendLimitSettings } from "../config/config";
import { getPool } from "../data/db";
import { ERRORS } from "../http/errors";
import { getThrottle, postgresStore, spend } from "./throttle";

const HOUR_SECONDS = 3600;

export class SendLimits {
  private readonly burst: RateLimiterPostgres;
  private readonly sustained: RateLimiterPostgres;
  private readonly perRecipient: RateLimiterPostgres;

  constructor(
    pool: Pool,
    readonly settings: SendLimitSettings,
  ) {
    const store = postgresStore(pool);
    this.burst = new RateLimiterPostgres({ ...store, keyPrefix: "send_burst", points: settings.burst, duration: settings.burstSeconds });
    this.sustained = new RateLimiterPostgres({ ...store, keyPrefix: "send_hour", points: settings.perHour, duration: HOUR_SECONDS });
    this.perRecipient = new RateLimiterPostgres({
      ...store,
      keyPrefix: "receive_hour",
      points: settings.perRecipientPerHour,
      duration: HOUR_SECONDS,
    });
  }

  /** Counts one send from `senderId` to `recipientId`; 429 once any of the limits is spent. */
  async countSend(senderId: number, recipientId: number): Promise<void> {
    getThrottle().sweepIfDue();
    const sender = String(senderId);
    // One after the other: a send refused by a shorter budget spends none of the longer ones.
    await spend(ERRORS.tooManyMessages, [this.burst.consume(sender)]);
    await spend(ERRORS.tooManyMessages, [this.sustained.consume(sender)]);
    await spend(ERRORS.tooManyMessages, [this.perRecipient.consume(String(recipientId))]);
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
