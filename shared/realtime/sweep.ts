/**
 * The realtime housekeeping the events-sweep timer runs every minute: close the sockets whose
 * token has expired, delete events past the retention, and forget connections whose
 * disconnected event was lost. Each step runs even when another fails.
 */
import { getConfig } from "../config/config";
import { sweepEvents } from "../data/event-log";
import { dueTokenExpiries, forgetStaleConnections, forgetTokenExpiry } from "../data/sockets";
import { ERRORS } from "../domain/errors";
import { closeExpiredSockets, type Logger } from "./realtime";

const DAY_MS = 86_400_000;
/** Events deleted per statement, so a large backlog never holds one long lock. */
export const EVENT_SWEEP_BATCH = 5_000;
/** Expiry groups closed per run; the rest wait for the next minute. */
const EXPIRIES_PER_RUN = 200;
/** Past a token's longest life, plus a sweep period or two, its socket has certainly been closed. */
const STALE_MARGIN_MS = 2 * 60_000;

export interface SweepResult {
  socketGroupsClosed: number;
  eventsDeleted: number;
  staleConnectionsForgotten: number;
}

async function closeExpired(now: Date, log: Logger): Promise<number> {
  let closed = 0;
  for (const expiresAt of await dueTokenExpiries(now, EXPIRIES_PER_RUN)) {
    try {
      await closeExpiredSockets(expiresAt, ERRORS.socketTokenExpired);
      await forgetTokenExpiry(expiresAt);
      closed++;
    } catch (error) {
      // Kept: the next run tries again.
      log.warn(`closing the sockets that expired at ${expiresAt.toISOString()} failed: ${(error as Error).message}`);
    }
  }
  return closed;
}

/** Runs every step, then throws if any failed, so the host records the run as failed. */
export async function sweepRealtime(log: Logger, now = new Date()): Promise<SweepResult> {
  const { realtimeLimits, accessTokenExpireMinutes } = getConfig();
  const retentionStart = new Date(now.getTime() - realtimeLimits.eventRetentionDays * DAY_MS);
  const staleBefore = new Date(now.getTime() - accessTokenExpireMinutes * 60_000 - STALE_MARGIN_MS);
  const failures: string[] = [];
  const step = (name: string, work: () => Promise<number>) =>
    work().catch((error: Error) => {
      failures.push(`${name}: ${error.message}`);
      return 0;
    });
  const result = {
    socketGroupsClosed: await step("closing expired sockets", () => closeExpired(now, log)),
    eventsDeleted: await step("deleting old events", () => sweepEvents(retentionStart, EVENT_SWEEP_BATCH)),
    staleConnectionsForgotten: await step("forgetting stale connections", () => forgetStaleConnections(staleBefore)),
  };
  if (failures.length) throw new Error(`realtime sweep failed: ${failures.join("; ")}`);
  return result;
}
