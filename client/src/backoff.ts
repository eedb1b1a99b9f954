/** Reconnection and retry delays: exponential with jitter, so many clients coming back at once spread out. */
import { calculateRetryDelay } from "@azure/core-util";

export interface BackoffOptions {
  /** The first delay's upper bound (default 500 ms); each attempt doubles it. */
  initialDelayMs?: number;
  /** The ceiling (default 30 s). */
  maxDelayMs?: number;
}

export class Backoff {
  private attempt = 0;
  private readonly config: { retryDelayInMs: number; maxRetryDelayInMs: number };

  constructor(options: BackoffOptions = {}) {
    this.config = { retryDelayInMs: options.initialDelayMs ?? 500, maxRetryDelayInMs: options.maxDelayMs ?? 30_000 };
  }

  /** The delay before the next attempt, at least `floorMs` (a server's Retry-After). */
  next(floorMs = 0): number {
    const { retryAfterInMs } = calculateRetryDelay(this.attempt++, this.config);
    return Math.max(retryAfterInMs, floorMs);
  }

  reset(): void {
    this.attempt = 0;
  }
}
