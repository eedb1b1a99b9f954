/**
 * Imported by every function file: validates the configuration when the app loads, so a
 * missing or weak setting stops the app with an error naming it instead of failing requests
 * one by one, and applies pending migrations when DB_MIGRATE_ON_START is set.
 */
import { app } from "@azure/functions";
import { getConfig } from "./config";
import { getPool } from "./db";
import { migrate } from "./migrate";

const config = getConfig();

if (config.migrateOnStart) {
  app.hook.appStart(async (context) => {
    try {
      const { applied, current } = await migrate(getPool());
      context.hookData.migrated = applied;
      if (applied.length) console.info(`applied migrations ${applied.join(", ")}; schema at version ${current}`);
    } catch (error) {
      // The app still starts: /health reports the database, and the next start retries.
      console.error(`database migration failed: ${(error as Error).message}`);
    }
  });
}
