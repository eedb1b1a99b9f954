/**
 * Imported by every function file: validates the configuration when the app loads, so a
 * missing or weak setting stops the app with an error naming it instead of failing requests
 * one by one, and applies pending migrations when DB_MIGRATE_ON_START is set.
 *
 * Migrations run in the host's start-up hook but are bounded (a short wait for the lock and for
 * table locks, see migrate()), and the hook waits for them at most START_WAIT_MS: a concurrent
 * index build on a large table goes on in the background, so they cannot hold an instance's
 * start-up past the host's limit.
 * A failure is logged and remembered; /health then answers 503 naming the schema version until
 * a later attempt (the next start, or the next /health call) brings the schema up to date.
 */
import { getConfig } from "../config/config";
import { getPool } from "../data/db";
import { migrate, settleWithin } from "../data/migrate";
import { onAppStart } from "./registration";

const config = getConfig();

/** Budget of one start-up migration: the host gives app start-up hooks about 30 s in all. */
const START_LOCK_WAIT_MS = 10_000;
const START_LOCK_TIMEOUT_MS = 5_000;
const START_WAIT_MS = 20_000;

let running: Promise<void> | undefined;
let lastFailure: string | undefined;

/** Applies pending migrations once at a time in this instance; never throws, records the outcome. */
export function applyMigrations(): Promise<void> {
  running ??= migrate(getPool(), undefined, { lockWaitMs: START_LOCK_WAIT_MS, lockTimeoutMs: START_LOCK_TIMEOUT_MS })
    .then(({ applied, current }) => {
      lastFailure = undefined;
      if (applied.length) console.info(`applied migrations ${applied.join(", ")}; schema at version ${current}`);
    })
    .catch((error: unknown) => {
      lastFailure = (error as Error).message;
      console.error(`database migration failed: ${lastFailure}`);
    })
    .finally(() => {
      running = undefined;
    });
  return running;
}

/** Whether this instance applies migrations itself (DB_MIGRATE_ON_START). */
export const migratesOnStart = (): boolean => config.migrateOnStart;

/** Why the last migration attempt of this instance failed, if it did. */
export const lastMigrationFailure = (): string | undefined => lastFailure;

if (config.migrateOnStart) {
  onAppStart(async () => {
    if ((await settleWithin(applyMigrations(), START_WAIT_MS)) === "continuing")
      console.info("migrations still running (an index build); serving meanwhile");
  });
}
