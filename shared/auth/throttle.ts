/**
 * Login and registration throttling, counted in PostgreSQL (rate-limiter-flexible over our pool,
 * table of migration 2) so every instance shares the counters. Per username and address, spent
 * before the password is checked so parallel guesses cannot slip past; failures per address,
 * never refunded so a success buys no guesses; nothing per username alone, so an attacker never
 * locks the owner out; every attempt also spends an account and an address budget, since a
 * correct password costs a hash too. An unknown address is counted by no per-address rule (one
 * shared bucket would let one client lock out all). The rules and their tests: docs/reliability.md.
 */
import { createHash } from "node:crypto";
import type { Pool } from "pg";
import { RateLimiterPostgres, RateLimiterRes } from "rate-limiter-flexible";

import { getConfig, type ThrottleSettings } from "../config/config";
import { getPool } from "../data/db";
import { ERRORS, HttpError } from "../domain/errors";
import { UNKNOWN_ADDRESS } from "./client-address";

export const TABLE = "rate_limits";

/** rate-limiter-flexible's options for a counter in our table over this pool (see the constructor). */
export function postgresStore(pool: Pool) {
  // The library names its statements, and a named statement is prepared once per session; the
  // embedded database (PGlite) serves every connection from one session, so a second connection
  // preparing the same name fails. Unnamed, the upsert is planned each time: microseconds.
  const unnamed = { query: (q: { text: string; values?: unknown[] }) => pool.query(q.text, q.values) };
  return { storeClient: unnamed, storeType: "pool", tableName: TABLE, tableCreated: true, clearExpiredByTimeout: false };
}
// Expired rows are deleted by whichever request first finds the last sweep this old: no timer,
// so nothing runs while an instance is idle, and the delete reads the expire index only.
const SWEEP_EVERY_MS = 5 * 60_000;

/** Whole seconds until a counter lets the client in again (Retry-After), at least 1. */
export const retryAfterSeconds = (ms: number): number => Math.max(1, Math.ceil(ms / 1000));

const tooMany = (detail: string, ms: number) => new HttpError(429, detail, { "Retry-After": String(retryAfterSeconds(ms)) });

/**
 * Spends one point on each limiter. Resolves if all allowed it; throws a 429 (waiting for the
 * longest refusal) if any refused; rethrows a store failure, so a broken database fails closed.
 */
export async function spend(detail: string, attempts: Promise<RateLimiterRes>[]): Promise<void> {
  let waitMs = 0;
  for (const outcome of await Promise.allSettled(attempts)) {
    if (outcome.status === "fulfilled") continue;
    if (!(outcome.reason instanceof RateLimiterRes)) throw outcome.reason;
    waitMs = Math.max(waitMs, outcome.reason.msBeforeNext);
  }
  if (waitMs > 0) throw tooMany(detail, waitMs);
}

// Failed usernames are sometimes passwords typed into the wrong field: only a digest is stored.
const usernameDigest = (username: string) => createHash("sha256").update(username.trim().toLowerCase()).digest("base64url");

export interface LoginAttempt {
  /** Forgives this client's earlier failures for this username (call after a correct password). */
  succeeded(): Promise<void>;
  /** Counts a wrong password (or unknown username) against the client's address. */
  failed(): Promise<void>;
  /** Gives back the attempt's point when its password was never checked (hashing was busy): no guess was made. */
  abandoned(): Promise<void>;
}

export class Throttle {
  private readonly loginByUserAddress: RateLimiterPostgres;
  private readonly loginByAddress: RateLimiterPostgres;
  private readonly registrationByAddress: RateLimiterPostgres;
  private readonly attemptsByAccount: RateLimiterPostgres;
  private readonly attemptsByAddress: RateLimiterPostgres;
  private lastSweep = 0;

  constructor(
    private readonly pool: Pool,
    readonly settings: ThrottleSettings,
  ) {
    const store = postgresStore(pool);
    const { login, registration, attempts } = settings;
    this.loginByUserAddress = new RateLimiterPostgres({
      ...store,
      keyPrefix: "login_user_address",
      points: login.failuresPerUserAddress,
      duration: login.windowSeconds,
      blockDuration: login.blockSeconds,
    });
    this.loginByAddress = new RateLimiterPostgres({
      ...store,
      keyPrefix: "login_address",
      points: login.failuresPerAddress,
      duration: login.windowSeconds,
      blockDuration: login.blockSeconds,
    });
    this.attemptsByAccount = new RateLimiterPostgres({
      ...store,
      keyPrefix: "login_attempts_account",
      points: attempts.perAccount,
      duration: attempts.windowSeconds,
    });
    this.attemptsByAddress = new RateLimiterPostgres({
      ...store,
      keyPrefix: "login_attempts_address",
      points: attempts.perAddress,
      duration: attempts.windowSeconds,
    });
    this.registrationByAddress = new RateLimiterPostgres({
      ...store,
      keyPrefix: "registration_address",
      points: registration.perAddress,
      duration: registration.windowSeconds,
    });
  }

  /** Counts a login attempt before its password is checked; 429 once any limit is spent. */
  async beginLogin(address: string, username: string): Promise<LoginAttempt> {
    this.sweepIfDue();
    const account = usernameDigest(username);
    const userAddress = `${address}|${account}`;
    const known = address !== UNKNOWN_ADDRESS;
    await spend(ERRORS.tooManyLogins, [
      this.loginByUserAddress.consume(userAddress),
      this.attemptsByAccount.consume(account),
      ...(known ? [this.addressAllowed(address), this.attemptsByAddress.consume(address)] : []),
    ]);
    return {
      succeeded: async () => {
        await this.loginByUserAddress.delete(userAddress);
      },
      abandoned: async () => {
        await this.loginByUserAddress.reward(userAddress, 1);
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
    await spend(ERRORS.tooManyRegistrations, [this.registrationByAddress.consume(address)]);
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

const throttles = new WeakMap<Pool, Throttle>();

/** The throttle over this instance's pool, rebuilt when the settings change (tests, the local host). */
export function getThrottle(pool: Pool = getPool(), settings: ThrottleSettings = getConfig().throttle): Throttle {
  const cached = throttles.get(pool);
  if (cached?.settings === settings) return cached;
  const throttle = new Throttle(pool, settings);
  throttles.set(pool, throttle);
  return throttle;
}
