import "../shared/http/startup";

import { databaseAnswers, getPool } from "../shared/data/db";
import { expectedSchemaVersion, schemaVersion } from "../shared/data/migrate";
import { ERRORS, schemaMismatchDetail } from "../shared/domain/errors";
import { defineEndpoint } from "../shared/http/endpoint";
import { json, ok } from "../shared/http/http";
import { Health } from "../shared/http/schemas";
import { applyMigrations, lastMigrationFailure, migratesOnStart } from "../shared/http/startup";

/**
 * 200 only when the database answers and its schema is at least the version this code needs:
 * a deploy whose migrations are pending or failed is unhealthy, not silently half-working.
 */
export const health = defineEndpoint({
  name: "health",
  method: "GET",
  route: "health",
  summary: "Liveness and database reachability",
  auth: "none",
  response: Health,
  errors: [503],
  handler: async ({ context }) => {
    let current: number;
    try {
      await databaseAnswers();
      current = await schemaVersion(getPool());
    } catch (error) {
      context.warn(`health check: database did not answer: ${(error as Error).message}`);
      return json(503, { detail: ERRORS.databaseNotAnswering });
    }
    const expected = expectedSchemaVersion();
    if (current < expected) {
      const failure = lastMigrationFailure();
      context.warn(
        `health check: schema at version ${current}, code needs ${expected}${failure ? `; last migration attempt: ${failure}` : ""}`,
      );
      // Retry in the background: a start-up attempt may have lost the lock or a table-lock wait.
      if (migratesOnStart()) void applyMigrations();
      return json(503, { detail: schemaMismatchDetail(current, expected, Boolean(failure)) });
    }
    return ok({ status: "ok" });
  },
});
