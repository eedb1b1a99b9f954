/**
 * What one user may take of Web PubSub, checked when they negotiate a socket URL: at most
 * WS_MAX_CONNECTIONS_PER_USER open sockets and WS_NEGOTIATE_PER_MINUTE negotiations a minute,
 * so that one account cannot fill a hub (Free_F1 holds 20 connections for the whole service).
 * The rate is rate-limiter-flexible's PostgreSQL limiter (shared/data/rate-limit-counter.ts) in the rate_limits table, as the login
 * throttle counts (shared/auth/throttle.ts), so every instance shares it. The socket cap is also
 * enforced when a socket connects (functions/webpubsub-events.ts), since one URL can open several.
 */
import type { Pool } from "pg";
import { RateLimiterRes } from "rate-limiter-flexible";

import { postgresStore, retryAfterSeconds } from "../auth/throttle";
import { getConfig, type RealtimeLimits } from "../config/config";
import { getPool, perPool } from "../data/db";
import { RateLimitCounter } from "../data/rate-limit-counter";
import { connectionsOf, forgetConnection, openConnectionCount } from "../data/sockets";
import { ERRORS, HttpError } from "../domain/errors";
import { connectionIsOpen } from "./realtime";

const MINUTE_SECONDS = 60;
// A place frees when a socket closes, which the client itself decides; half a minute is a fair pause.
const SOCKETS_RETRY_AFTER_SECONDS = 30;

const negotiationLimiter = perPool(
  (pool, limits: RealtimeLimits) =>
    new RateLimitCounter({
      ...postgresStore(pool),
      keyPrefix: "ws_negotiate",
      points: limits.negotiationsPerMinute,
      duration: MINUTE_SECONDS,
    }),
);

/**
 * Forgets the user's recorded connections the service no longer holds: their disconnected event
 * was lost (the stand-in restarted, the app was down). Asked only when the user seems to be at the
 * cap, so a lost event never locks a user out; a connection the service cannot answer for is kept.
 */
export async function forgetClosedConnections(userId: number): Promise<void> {
  for (const connectionId of await connectionsOf(userId)) {
    const open = await connectionIsOpen(connectionId).catch(() => true);
    if (!open) await forgetConnection(connectionId);
  }
}

/**
 * Resolves when the user may negotiate another socket; throws a 429 with Retry-After otherwise.
 * The rate is spent before any other work, refusals included: a client at its socket cap that
 * keeps asking would otherwise cost a database count and a Web PubSub call per socket each time.
 */
export async function admitNegotiation(
  userId: number,
  pool: Pool = getPool(),
  limits: RealtimeLimits = getConfig().realtimeLimits,
): Promise<void> {
  try {
    await negotiationLimiter(pool, limits).consume(String(userId));
  } catch (refusal) {
    if (!(refusal instanceof RateLimiterRes)) throw refusal;
    throw new HttpError(429, ERRORS.tooManyNegotiations, { "Retry-After": String(retryAfterSeconds(refusal.msBeforeNext)) });
  }
  const atCap = async () => (await openConnectionCount(userId)) >= limits.maxConnectionsPerUser;
  if (await atCap()) {
    await forgetClosedConnections(userId);
    if (await atCap()) throw new HttpError(429, ERRORS.tooManySockets, { "Retry-After": String(SOCKETS_RETRY_AFTER_SECONDS) });
  }
}
