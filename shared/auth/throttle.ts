/**
 * Login and registration throttling, counted in PostgreSQL (rate-limiter-flexible over our pool,
 * table of migration 2) so every instance shares the counters. Budgets are keyed by the account
 * the typed name resolves to (loginAccountKey), never by the text as typed. Per client and
 * account, spent before the password is checked so parallel guesses cannot slip past; failures
 * per address, never refunded so a success buys no guesses; every attempt also spends an account
 * and an address budget, since a correct password costs a hash too. A known device (a device
 * token of this account, shared/auth/device-tokens.ts) is counted by a budget of its own instead
 * of the account's and the client-and-account one, so other clients' failures never lock the
 * owner out. An attempt one limiter refuses gets its points back from the others. An unknown
 * address is counted by no per-address rule (one shared bucket would let one client lock out all).
 * The rules and their tests: docs/reliability.md.
 */
import { createHash } from "node:crypto";
import type { Pool } from "pg";
import { RateLimiterRes } from "rate-limiter-flexible";

import { getConfig, type ThrottleSettings } from "../config/config";
import { getPool, perPool } from "../data/db";
import { RATE_LIMITS_TABLE, RateLimitCounter } from "../data/rate-limit-counter";
import { ERRORS, HttpError } from "../domain/errors";
import { usernameSkeletons } from "../domain/usernames";
import { UNKNOWN_ADDRESS } from "./client-address";

export const TABLE = RATE_LIMITS_TABLE;

/** rate-limiter-flexible's options for a counter in our table over this pool (see the constructor). */
export function postgresStore(pool: Pool) {
  return { storeClient: pool, storeType: "pool", tableName: TABLE, tableCreated: true, clearExpiredByTimeout: false };
}
// Expired rows are deleted by whichever request first finds the last sweep this old: no timer,
// so nothing runs while an instance is idle, and the delete reads the expire index only.
const SWEEP_EVERY_MS = 5 * 60_000;

/** Whole seconds until a counter lets the client in again (Retry-After), at least 1. */
export const retryAfterSeconds = (ms: number): number => Math.max(1, Math.ceil(ms / 1000));

const tooMany = (detail: string, ms: number) => new HttpError(429, detail, { "Retry-After": String(retryAfterSeconds(ms)) });

/** One point to spend: the limiter's attempt, and how to give the point back if another refuses. */
export interface Spend {
  attempt: Promise<RateLimiterRes>;
  refund?: () => Promise<unknown>;
}

export const spendOn = (limiter: RateLimitCounter, key: string): Spend => ({
  attempt: limiter.consume(key),
  refund: () => limiter.reward(key, 1),
});

/**
 * Spends one point on each limiter. Resolves if all allowed it; throws a 429 (waiting for the
 * longest refusal) if any refused, after giving the point back to those that allowed it, so a
 * refused attempt spends no other budget; rethrows a store failure, so a broken database fails closed.
 */
export async function spend(detail: string, spends: Spend[]): Promise<void> {
  let waitMs = 0;
  const outcomes = await Promise.allSettled(spends.map((s) => s.attempt));
  for (const outcome of outcomes) {
    if (outcome.status === "fulfilled") continue;
    if (!(outcome.reason instanceof RateLimiterRes)) throw outcome.reason;
    waitMs = Math.max(waitMs, outcome.reason.msBeforeNext);
  }
  if (waitMs === 0) return;
  await Promise.all(spends.map((s, i) => (outcomes[i].status === "fulfilled" ? s.refund?.() : undefined)));
  throw tooMany(detail, waitMs);
}

/**
 * The key of the account a login names: its id when the name resolves to one (as
 * shared/data/users.ts logs in), else a digest of the name's case-folded confusable skeleton, so
 * every look-alike spelling of an unknown name shares one bucket. Failed names are sometimes
 * passwords typed into the wrong field: only the digest is stored.
 */
export function loginAccountKey(userId: number | null, typedName: string): string {
  if (userId !== null) return `user:${userId}`;
  return `name:${createHash("sha256").update(usernameSkeletons(typedName.trim()).folded).digest("base64url")}`;
}

/** Who is logging in: the client's address, the account key, and the device id when it is a known device of that account. */
export interface LoginClient {
  address: string;
  account: string;
  device: string | null;
}

export interface LoginAttempt {
  /** Forgives this client's earlier failures for this username (call after a correct password). */
  succeeded(): Promise<void>;
  /** Counts a wrong password (or unknown username) against the client's address. */
  failed(): Promise<void>;
  /** Gives back the attempt's point when its password was never checked (hashing was busy): no guess was made. */
  abandoned(): Promise<void>;
}

export class Throttle {
  private readonly loginByUserAddress: RateLimitCounter;
  private readonly loginByDevice: RateLimitCounter;
  private readonly loginByAddress: RateLimitCounter;
  private readonly registrationByAddress: RateLimitCounter;
  private readonly attemptsByAccount: RateLimitCounter;
  private readonly attemptsByAddress: RateLimitCounter;
  private lastSweep = 0;

  constructor(
    private readonly pool: Pool,
    readonly settings: ThrottleSettings,
  ) {
    const store = postgresStore(pool);
    const { login, registration, attempts } = settings;
    this.loginByUserAddress = new RateLimitCounter({
      ...store,
      keyPrefix: "login_user_address",
      points: login.failuresPerUserAddress,
      duration: login.windowSeconds,
      blockDuration: login.blockSeconds,
    });
    this.loginByDevice = new RateLimitCounter({
      ...store,
      keyPrefix: "login_device",
      points: login.failuresPerUserAddress,
      duration: login.windowSeconds,
      blockDuration: login.blockSeconds,
    });
    this.loginByAddress = new RateLimitCounter({
      ...store,
      keyPrefix: "login_address",
      points: login.failuresPerAddress,
      duration: login.windowSeconds,
      blockDuration: login.blockSeconds,
    });
    this.attemptsByAccount = new RateLimitCounter({
      ...store,
      keyPrefix: "login_attempts_account",
      points: attempts.perAccount,
      duration: attempts.windowSeconds,
    });
    this.attemptsByAddress = new RateLimitCounter({
      ...store,
      keyPrefix: "login_attempts_address",
      points: attempts.perAddress,
      duration: attempts.windowSeconds,
    });
    this.registrationByAddress = new RateLimitCounter({
      ...store,
      keyPrefix: "registration_address",
      points: registration.perAddress,
      duration: registration.windowSeconds,
    });
  }

  /** Counts a login attempt before its password is checked; 429 once any limit is spent. */
  async beginLogin({ address, account, device }: LoginClient): Promise<LoginAttempt> {
    this.sweepIfDue();
    // A known device has a budget of its own; any other client shares the account's with every other.
    const [perClient, clientKey] = device
      ? [this.loginByDevice, `${account}|${device}`]
      : [this.loginByUserAddress, `${address}|${account}`];
    const known = address !== UNKNOWN_ADDRESS;
    await spend(ERRORS.tooManyLogins, [
      spendOn(perClient, clientKey),
      ...(device ? [] : [spendOn(this.attemptsByAccount, account)]),
      ...(known ? [{ attempt: this.addressAllowed(address) }, spendOn(this.attemptsByAddress, address)] : []),
    ]);
    return {
      succeeded: async () => {
        await perClient.delete(clientKey);
      },
      abandoned: async () => {
        await perClient.reward(clientKey, 1);
      },
      failed: async () => {
        if (!known) return;
        const res = await this.loginByAddress.consume(address).catch((refusal: unknown) => {
          if (refusal instanceof RateLimiterRes) return null; // past the limit: already blocked
          throw refusal;
        });
        // The failure that spends the last point blocks at once (the library blocks only past it).
        if (res?.remainingPoints === 0) await this.loginByAddress.block(address, this.settings.login.blockSeconds);
      },
    };
  }

  /** Resolves while the address may still try; rejects as a spent limiter would once it is blocked. */
  private async addressAllowed(address: string): Promise<RateLimiterRes> {
    const res = await this.loginByAddress.get(address);
    if (res && res.consumedPoints > this.settings.login.failuresPerAddress) return Promise.reject(res);
    return res ?? new RateLimiterRes();
  }

  /** Counts an account registration from this address; 429 once the limit is spent. */
  async countRegistration(address: string): Promise<void> {
    this.sweepIfDue();
    if (address === UNKNOWN_ADDRESS) return; // see the module comment
    await spend(ERRORS.tooManyRegistrations, [spendOn(this.registrationByAddress, address)]);
  }

  /** Deletes counters that expired before `now`; returns how many. */
  async sweepExpired(now = Date.now()): Promise<number> {
    const { rowCount } = await this.pool.query(`DELETE FROM ${TABLE} WHERE expire < $1`, [now]);
    return rowCount ?? 0;
  }

  /** Starts a sweep of expired counters (of every kind in the table) unless one ran recently. */
  sweepIfDue(): void {
    const now = Date.now();
    if (now - this.lastSweep < SWEEP_EVERY_MS) return;
    this.lastSweep = now;
    this.sweepExpired(now).catch((error: Error) => console.warn(`sweeping expired rate limits failed: ${error.message}`));
  }
}

const throttleFor = perPool((pool, settings: ThrottleSettings) => new Throttle(pool, settings));

/** The throttle over this instance's pool, rebuilt when the settings change (tests, the local host). */
export function getThrottle(pool: Pool = getPool(), settings: ThrottleSettings = getConfig().throttle): Throttle {
  return throttleFor(pool, settings);
}
