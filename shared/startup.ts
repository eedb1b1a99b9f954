/**
 * Imported by every function file: validates the configuration when the app loads, so a
 * missing or weak setting stops the app with an error naming it instead of failing requests
 * one by one, and applies pending migrations when DB_MIGRATE_ON_START is set.
 */
import { app } from "@azure/functions";
import { getConfig } from "./config";
import { getPool } from "./db";
import { migrateAtStartup } from "./migrate";

const config = getConfig();

if (config.migrateOnStart) {
  app.hook.appStart(async () => {
    const outcome = await migrateAtStartup(getPool(), console);
    if (outcome === "continuing") console.info("migrations still running (an index build); serving meanwhile");
  });
}
