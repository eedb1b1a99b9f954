/**
 * Search latency at scale: a rare-word `q` search of the inbox (the API's own query, through
 * the app's pool) on a seeded PostgreSQL, p50 and p99, beside the floor measured in the same
 * run (opening one message by its primary key through the same pool) and their ratio.
 *
 *   BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres npm run bench:search
 *   BENCH_SEARCH_ROWS=1000000 (default)
 */
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";

import { resetConfig } from "../shared/config/config";
import { closePool, getPool } from "../shared/data/db";
import { getMessage } from "../shared/data/mailbox";
import { inboxQuery, listInbox } from "../shared/data/messages";
import { migrate } from "../shared/data/migrate";
import { withBenchDatabase } from "./database-server";
import { percentile } from "./stats";
import { createDatabase, dropDatabase } from "./throughput/seed";

const ROWS = Number(process.env.BENCH_SEARCH_ROWS ?? 1_000_000);
const ROUNDS = 10;
const PER_ROUND = 50;
const USERS = 50;
const NAME = "bench_search";

async function timed(work: () => Promise<unknown>, into: number[]): Promise<void> {
  const t = performance.now();
  await work();
  into.push(performance.now() - t);
}

async function main(ADMIN_URL: string): Promise<void> {
  if (!(Number.isInteger(ROWS) && ROWS >= 10_000)) throw new Error("BENCH_SEARCH_ROWS must be an integer of at least 10000");
  process.env.DATABASE_URL = await createDatabase(ADMIN_URL, NAME);
  process.env.DB_STATEMENT_TIMEOUT_MS = "300000";
  // The app's configuration wants a signing secret; this benchmark signs nothing.
  process.env.SECRET_KEY ??= randomBytes(32).toString("hex");
  resetConfig();
  const pool = getPool();
  try {
    await migrate(pool);
    const seeded = performance.now();
    await pool.query(`INSERT INTO users (username, hashed_password) SELECT 'bench_search_' || i, 'x' FROM generate_series(1, ${USERS}) i`);
    await pool.query(
      `INSERT INTO messages (sender_id, recipient_id, title, body, is_read)
       SELECT 1 + (i * 7) % ${USERS}, 1 + i % ${USERS}, 'Assunto ' || (i % 997), 'Olá, tudo bem? Relatório ' || md5(i::text) || ' da reunião ' || (i % 1009), i % 3 = 0
         FROM generate_series(1, ${ROWS}) i`,
    );
    const { rows } = await pool.query<{ id: number }>(
      "INSERT INTO messages (sender_id, recipient_id, title, body) VALUES (3, 1, 'Pedido', 'o código é ZYXWVUTSRQ') RETURNING id",
    );
    await pool.query("ANALYZE messages");
    console.log(`seeded ${ROWS} messages in ${((performance.now() - seeded) / 1000).toFixed(1)} s (user 1 holds ${ROWS / USERS})`);
    const query = inboxQuery(1, { limit: 1000, q: "zyxwvu" });
    const plan = (await pool.query({ text: `EXPLAIN ${query.text}`, values: query.values })).rows.map(
      (r: Record<string, string>) => r["QUERY PLAN"],
    );
    console.log(`plan uses the search index: ${plan.some((line) => line.includes("messages_search_idx"))}`);

    const search: number[] = [];
    const floor: number[] = [];
    // Interleaved rounds, so a noisy neighbour slows both sides alike.
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < PER_ROUND; i++) await timed(() => listInbox(1, { limit: 1000, q: "zyxwvu" }), search);
      for (let i = 0; i < PER_ROUND; i++) await timed(() => getMessage(rows[0].id, 1), floor);
    }
    search.sort((a, b) => a - b);
    floor.sort((a, b) => a - b);
    const line = (name: string, s: number[]) =>
      `${name.padEnd(36)} p50 ${percentile(s, 50).toFixed(2)} ms  p99 ${percentile(s, 99).toFixed(2)} ms`;
    console.log(line("rare-word inbox search (q)", search));
    console.log(line("floor: one message by primary key", floor));
    console.log(`ratio p50 ${(percentile(search, 50) / percentile(floor, 50)).toFixed(2)}x`);
  } finally {
    await closePool();
    await dropDatabase(ADMIN_URL, NAME);
  }
}

withBenchDatabase(main).catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
