/**
 * vitest's global setup: the PostgreSQL server every test file of the run creates its
 * databases on, and a migrated template they are copied from (a copy takes a fraction of what
 * running every migration again takes).
 *
 * TEST_DATABASE_URL names a server of your own; without it one embedded server
 * (local/postgres/) runs for the whole run in a temporary folder, removed at the end.
 */
import { randomBytes } from "node:crypto";
import { Pool } from "pg";

import { startEmbeddedDatabase } from "../../local/database";
import { withClient } from "../../shared/data/db";
import { migrate } from "../../shared/data/migrate";

// Test files run in parallel, each with its pools, the stack's and a few of its own.
const MAX_CONNECTIONS = 300;

const adminQuery = (url: string, sql: string) => withClient(url, (admin) => admin.query(sql));

export default async function setup(): Promise<() => Promise<void>> {
  const own = process.env.TEST_DATABASE_URL;
  const embedded = own ? null : await startEmbeddedDatabase({ maxConnections: MAX_CONNECTIONS });
  const serverUrl = own ?? (embedded?.url as string);

  const template = `test_template_${process.pid}_${randomBytes(3).toString("hex")}`;
  await adminQuery(serverUrl, `CREATE DATABASE ${template}`);
  const templateUrl = new URL(serverUrl);
  templateUrl.pathname = `/${template}`;
  const pool = new Pool({ connectionString: templateUrl.toString(), max: 2 });
  try {
    await migrate(pool);
  } finally {
    await pool.end();
  }
  // Read by test/support/database.ts in every test process (forks inherit this environment).
  process.env.TEST_DATABASE_URL = serverUrl;
  process.env.TEST_DATABASE_TEMPLATE = template;

  return async () => {
    if (embedded) return embedded.close();
    await adminQuery(serverUrl, `DROP DATABASE IF EXISTS ${template} WITH (FORCE)`);
  };
}
