/**
 * Limits on the changes a user makes to their messages that push frames (read, unread, mark all
 * read, delete; moves and flags go through the same limiter): each pushes a frame to every socket
 * of the user, so unlimited toggling spends the service's Web PubSub quota (Free_F1: 20 000 frames
 * a day for everyone). A burst (STATE_CHANGE_LIMIT_BURST a minute) and a sustained rate
 * (STATE_CHANGE_LIMIT_PER_HOUR), counted in rate_limits like the other limits so every instance
 * shares them; a change the burst refuses spends nothing of the hour. Past either: 429 with
 * Retry-After.
 */
import type { Pool } from "pg";

import { getConfig, type StateChangeLimitSettings } from "../config/config";
import { getPool, perPool } from "../data/db";
import { RateLimitCounter } from "../data/rate-limit-counter";
import { ERRORS } from "../domain/errors";
import { postgresStore, spend, spendOn } from "./throttle";

const MINUTE_SECONDS = 60;
const HOUR_SECONDS = 3600;

export class StateChangeLimits {
  private readonly burst: RateLimitCounter;
  private readonly hourly: RateLimitCounter;

  constructor(
    pool: Pool,
    readonly settings: StateChangeLimitSettings,
  ) {
    const store = postgresStore(pool);
    this.burst = new RateLimitCounter({ ...store, keyPrefix: "state_burst", points: settings.burst, duration: MINUTE_SECONDS });
    this.hourly = new RateLimitCounter({ ...store, keyPrefix: "state_hour", points: settings.perHour, duration: HOUR_SECONDS });
  }

  /** Counts one change by `userId` before it is made; 429 once either budget is spent. */
  async countChange(userId: number): Promise<void> {
    const key = String(userId);
    await spend(ERRORS.tooManyStateChanges, [spendOn(this.burst, key), spendOn(this.hourly, key)]);
  }
}

const stateChangeLimitsFor = perPool((pool, settings: StateChangeLimitSettings) => new StateChangeLimits(pool, settings));

/** The limits over this instance's pool, rebuilt when the settings change (tests, the local host). */
export function getStateChangeLimits(
  pool: Pool = getPool(),
  settings: StateChangeLimitSettings = getConfig().stateChangeLimits,
): StateChangeLimits {
  return stateChangeLimitsFor(pool, settings);
}
