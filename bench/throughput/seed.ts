/**
 * Seeds a fresh benchmark database: users with one real bcrypt hash, and `messages` rows in
 * the shape of a busy service. User 1 (the reader) receives every fifth message, half of
 * them unread (100,000 unread at 1M messages), from 20 senders in turn (users 3-22), so a
 * filter by sender keeps the same share of the mailbox at any size; user 2 sends every fifth.
 * Written in the old shape, so migration 12's triggers give each message its two copies.
 */
import bcrypt from "bcryptjs";
import { Client } from "pg";

import { faultTolerantPool } from "../../shared/data/db";
import { migrate } from "../../shared/data/migrate";

export const BENCH_PASSWORD = "benchmark-password";
export const USER_COUNT = 1000;

export async function createDatabase(adminUrl: string, name: string): Promise<string> {
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).finally(() => admin.end());
}

export async function seed(url: string, messages: number, bcryptCost: number): Promise<void> {
  const pool = faultTolerantPool({ connectionString: url, max: 1 });
  await migrate(pool);
  const client = await pool.connect();
  try {
    const hash = await bcrypt.hash(BENCH_PASSWORD, bcryptCost);
    await client.query(`INSERT INTO users (username, hashed_password) SELECT 'bench_user_' || g, $1 FROM generate_series(1, $2) g`, [
      hash,
      USER_COUNT,
    ]);
    await client.query(
      `INSERT INTO messages (sender_id, recipient_id, title, body, "timestamp", is_read)
       SELECT CASE WHEN g % 5 = 1 THEN 2 WHEN g % 5 = 0 THEN 3 + (g / 5) % 20 ELSE 3 + g % ($2 - 2) END,
              CASE WHEN g % 5 = 0 THEN 1 ELSE 3 + (g * 7) % ($2 - 2) END,
              'Seeded message ' || g,
              repeat('Lorem ipsum dolor sit amet. ', 8) || g,
              now() - make_interval(secs => $1 - g),
              NOT (g % 5 = 0 AND g % 10 <> 0)
         FROM generate_series(1, $1) g`,
      [messages, USER_COUNT],
    );
    await client.query("VACUUM ANALYZE users");
    await client.query("VACUUM ANALYZE messages");
    await client.query("VACUUM ANALYZE message_copies");
  } finally {
    client.release();
    await pool.end();
  }
}
