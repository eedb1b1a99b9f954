/**
 * Admission to the password-hashing queue by time rather than by count: a count says nothing about
 * how long a login waits, and a client that gives up leaves its hash queued for nobody. A new hash
 * is taken only if it should start within `maxWaitMs` (the hashes ahead times a moving average of
 * recent durations); otherwise it gets a quick 503 with a Retry-After of about the work ahead.
 */
import { performance } from "node:perf_hooks";

import { ERRORS, HttpError } from "../domain/errors";

export interface HashingLimits {
  /** Hashes that run at once (one per hashing thread). */
  threads: number;
  /** Longest expected wait for a thread before a new hash is refused. */
  maxWaitMs: number;
  /** Hashes one client may have waiting at most, whatever their expected wait: a backstop should the average mislead. */
  queueMax: number;
}

/**
 * Weight of the newest duration in the moving average: about the last ten hashes count, so the
 * estimate follows a machine that gets busier within a few seconds without jumping on one outlier.
 */
export const DURATION_WEIGHT = 0.2;

/**
 * How long a refusal is held before it is sent, so that a client ignoring Retry-After cannot take
 * the hashing threads' CPU by asking again at once (docs/benchmarks.md, `npm run bench:throughput`).
 */
export const REFUSAL_HOLD_MS = 500;

export class HashingBudget {
  private meanMs: number | undefined;

  constructor(
    readonly limits: HashingLimits,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** The moving average of recent hash durations, undefined until one has been timed. */
  get meanHashMs(): number | undefined {
    return this.meanMs;
  }

  /**
   * How long a hash arriving now would wait for a thread, with `running` hashes in progress and
   * `queued` waiting: the jobs ahead, each the mean duration, shared by the threads. Undefined
   * while no hash has been timed.
   */
  expectedWaitMs(running: number, queued: number, threads = this.limits.threads): number | undefined {
    if (running < threads) return 0;
    return this.meanMs === undefined ? undefined : ((running + queued) * this.meanMs) / threads;
  }

  /**
   * Throws a 503 with Retry-After unless a hash arriving now may run or wait (see the module comment).
   * `queued` is the hashes that would start before it; `ownQueued` those of its own client, which
   * the count cap bounds (so one client's backlog never counts against another's). `threads` is
   * the threads those hashes share (fewer than all when judging one client's own share).
   */
  admit(running: number, queued: number, ownQueued = queued, threads = this.limits.threads): void {
    const waitMs = this.expectedWaitMs(running, queued, threads);
    if (waitMs === 0) return;
    // Until one hash has been timed (a fraction of a second after an instance's first login) only
    // the count applies: refusing a burst at start-up for want of a measurement would turn away
    // logins that the budget, once known, admits.
    const withinBudget = waitMs === undefined || waitMs <= this.limits.maxWaitMs;
    if (withinBudget && ownQueued < this.limits.queueMax) return;
    const retryAfterSeconds = Math.max(1, Math.ceil((waitMs ?? 0) / 1000));
    throw new HttpError(503, ERRORS.passwordHashingBusy, { "Retry-After": String(retryAfterSeconds) });
  }

  /** Starts timing one hash; call the returned function when it ends to add its duration to the average. */
  time(): () => void {
    const started = this.now();
    return () => this.record(this.now() - started);
  }

  private record(ms: number): void {
    this.meanMs = this.meanMs === undefined ? ms : this.meanMs + DURATION_WEIGHT * (ms - this.meanMs);
  }
}
