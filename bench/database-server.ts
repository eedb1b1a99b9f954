/**
 * The PostgreSQL server a benchmark makes its databases on: BENCH_DATABASE_URL's (its admin
 * URL), else an embedded server (local/postgres/) started for this run and removed after it.
 */
import { startEmbeddedDatabase } from "../local/database";

// Load generators open many connections at once, besides the app's pools.
const MAX_CONNECTIONS = 300;

/** Runs `work` with the server's admin URL; an embedded server it started is stopped after. */
export async function withBenchDatabase(work: (adminUrl: string) => Promise<void>): Promise<void> {
  const own = process.env.BENCH_DATABASE_URL;
  if (own) return work(own);
  const embedded = await startEmbeddedDatabase({ maxConnections: MAX_CONNECTIONS });
  console.log(`database: an embedded PostgreSQL server at ${embedded.url} (set BENCH_DATABASE_URL to use yours)`);
  try {
    await work(embedded.url);
  } finally {
    await embedded.close();
  }
}
