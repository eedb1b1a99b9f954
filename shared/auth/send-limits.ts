/**
 * Limits on sending, counted in PostgreSQL beside the login counters (rate_limits), so every
 * instance shares them: a sender has a burst budget (SEND_LIMIT_BURST a minute) and a sustained one
 * (SEND_LIMIT_PER_HOUR), and a recipient takes SEND_LIMIT_PER_RECIPIENT_PER_HOUR from all senders.
 * The sender's budgets are spent before any other work, the hourly one only by a send the burst
 * allowed (a client retrying at once past its burst waits out the minute, not the hour): by the
 * send's own statement, last, when it is all the work (no reply, attachments or key), else by a
 * statement of their own first; a send to nobody and a refused send still spend them. A
 * recipient's budget is spent only by a message stored for them, inside the send's transaction:
 * a refused send (404, 410, 422, 429) rolls back and spends nothing of anyone else's, so refused
 * sends cannot cut a recipient off. Past any limit: 429 with Retry-After.
 */
import type { Pool } from "pg";

import { getConfig, type SendLimitSettings } from "../config/config";
import { getPool, perPool } from "../data/db";
import type { RecipientBudget } from "../data/messages";
import { senderBudgetCtes, senderRefusedUntilSql, senderSpendSql, senderSpendValues, type SenderBudget } from "../data/rate-limit-counter";
import { ERRORS, HttpError } from "../domain/errors";
import { getThrottle, retryAfterSeconds } from "./throttle";

const HOUR_MS = 3_600_000;

// Both sender budgets in one round trip, for a send that has work to do before its statement.
const SPENT = senderSpendSql(1);
const SPEND_SENDER = `WITH ${senderBudgetCtes(SPENT)} SELECT ${senderRefusedUntilSql(SPENT)}::float8 AS refused_until`;

const tooManyMessages = (expire: number, now: number) =>
  new HttpError(429, ERRORS.tooManyMessages, { "Retry-After": String(retryAfterSeconds(expire - now)) });

/** How many refused senders an instance remembers; past it, it forgets them all (they are refused again, at full cost once). */
const REMEMBERED_REFUSALS = 10_000;

export class SendLimits {
  /** Senders this instance saw refused, and until when (ms): their next sends spend first. */
  private readonly refusedUntil = new Map<number, number>();

  constructor(
    private readonly pool: Pool,
    readonly settings: SendLimitSettings,
  ) {}

  /**
   * Whether a send may leave the sender's budgets to its own statement, which spends them last: not
   * for a sender refused within the window, so a flood past a budget is refused by the budget's own
   * statement and never does the work of a send only to roll it back.
   */
  mayDeferSenderBudget(senderId: number, now = Date.now()): boolean {
    const until = this.refusedUntil.get(senderId);
    if (until === undefined) return true;
    if (until > now) return false;
    this.refusedUntil.delete(senderId);
    return true;
  }

  /** The sender's budgets for a send to `recipients` (one point each), for the send's own statement to spend. */
  senderBudget(senderId: number, recipients = 1, now = Date.now()): SenderBudget {
    // Every spend is a chance to clear the counters whose windows have passed.
    getThrottle().sweepIfDue();
    const { burst, burstSeconds, perHour } = this.settings;
    return {
      now,
      points: recipients,
      burst: { key: `send_burst:${senderId}`, windowMs: burstSeconds * 1000, limit: burst },
      hourly: { key: `send_hour:${senderId}`, windowMs: HOUR_MS, limit: perHour },
    };
  }

  /**
   * Spends the sender's burst and hourly budgets, one point per recipient addressed; 429 once either
   * is spent. For a send with work before its statement (a reply's thread, attachments, a key), for
   * a sender refused of late, and after a statement that failed on a budget (its spend rolled back).
   */
  async spendSenderBudget(senderId: number, recipients = 1, now = Date.now()): Promise<void> {
    const budget = this.senderBudget(senderId, recipients, now);
    // Named, as the send's own statement: planned once per connection.
    const { rows } = await this.pool.query<{ refused_until: number | null }>({
      name: "spend-sender-budget",
      text: SPEND_SENDER,
      values: senderSpendValues(budget),
    });
    const expire = rows[0].refused_until;
    if (expire === null) return;
    if (this.refusedUntil.size >= REMEMBERED_REFUSALS) this.refusedUntil.clear();
    this.refusedUntil.set(senderId, expire);
    throw tooManyMessages(expire, now);
  }

  /**
   * Each recipient's hourly budget, as the send's statement spends it: one point for a message
   * stored for them, in the statement that stores it (shared/data/messages.ts), so a refusal (any
   * recipient's budget spent) or any later failure rolls the points back with the message.
   */
  recipientBudget(recipientIds: readonly number[], now = Date.now()): RecipientBudget {
    return { keys: recipientIds.map((id) => `receive_hour:${id}`), limit: this.settings.perRecipientPerHour, windowMs: HOUR_MS, now };
  }

  /** The 429 for a send a budget refused (the sender's in the send's statement, or a recipient's); `expire` is the budget's (ms). */
  refusal(expire: number, now = Date.now()): HttpError {
    return tooManyMessages(expire, now);
  }
}

const sendLimitsFor = perPool((pool, settings: SendLimitSettings) => new SendLimits(pool, settings));

/** The send limits over this instance's pool, rebuilt when the settings change (tests, the local host). */
export function getSendLimits(pool: Pool = getPool(), settings: SendLimitSettings = getConfig().sendLimits): SendLimits {
  return sendLimitsFor(pool, settings);
}
