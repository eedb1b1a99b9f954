import { resetConfig } from "../../shared/config/config";
import { closePool, getPool } from "../../shared/data/db";
import { migrate } from "../../shared/data/migrate";
import { MIGRATIONS } from "../../shared/data/migrations";
import { createTestDatabase, type TestDatabase } from "./database";

/**
 * Sizes of the scale tests. `npm test` runs each at a size that exercises its mechanism in
 * seconds; `npm run test:full-scale` (TEST_SCALE=full) runs those whose size matters at the size
 * their guarantee names, in minutes; CI runs both.
 * A test's own variable (e.g. MAIL_MIGRATION_ROWS) overrides both.
 */
export function scaleSize(variable: string, full: number, quick: number): number {
  const own = process.env[variable];
  if (own) return Number(own);
  return process.env.TEST_SCALE === "full" ? full : quick;
}

/**
 * The app pointed at a database of its own, migrated to just before `version`, for a scale test
 * that seeds what the schema held then and runs the migrations after it. Seeding is one long
 * statement, which the app's request-sized statement timeout would cancel.
 */
export async function scaleDatabaseBefore(version: number): Promise<TestDatabase> {
  const db = await createTestDatabase();
  process.env.DATABASE_URL = db.url;
  process.env.DB_STATEMENT_TIMEOUT_MS = "300000";
  resetConfig();
  await closePool();
  await migrate(
    getPool(),
    MIGRATIONS.filter((m) => m.version < version),
  );
  return {
    ...db,
    close: async () => {
      await closePool();
      await db.close();
    },
  };
}
