/**
 * Versioned schema changes, applied in order by `migrate()`. Never edit a released entry:
 * add a new one. Column names follow the original service's SQLAlchemy models so an
 * existing database can be migrated in place (hence IF NOT EXISTS everywhere in 1).
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "users and messages",
    sql: `
      CREATE TABLE IF NOT EXISTS users (
        id SERIAL PRIMARY KEY,
        username VARCHAR(50) NOT NULL,
        hashed_password VARCHAR(255) NOT NULL
      );
      CREATE UNIQUE INDEX IF NOT EXISTS users_username_lower_key ON users (lower(username));
      CREATE INDEX IF NOT EXISTS users_username_prefix_idx ON users (lower(username) text_pattern_ops);

      CREATE TABLE IF NOT EXISTS messages (
        id SERIAL PRIMARY KEY,
        sender_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        recipient_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        title VARCHAR(255) NOT NULL,
        body TEXT NOT NULL,
        "timestamp" TIMESTAMPTZ NOT NULL DEFAULT now(),
        is_read BOOLEAN NOT NULL DEFAULT false
      );
      ALTER TABLE messages ADD COLUMN IF NOT EXISTS read_at TIMESTAMPTZ;
      -- The API relies on these names to tell a missing recipient (23503) from a fault.
      DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'messages_sender_id_fkey') THEN
          ALTER TABLE messages ADD CONSTRAINT messages_sender_id_fkey FOREIGN KEY (sender_id) REFERENCES users (id) ON DELETE CASCADE;
        END IF;
        IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'messages_recipient_id_fkey') THEN
          ALTER TABLE messages ADD CONSTRAINT messages_recipient_id_fkey FOREIGN KEY (recipient_id) REFERENCES users (id) ON DELETE CASCADE;
        END IF;
      END $$;
      ALTER TABLE messages ALTER COLUMN "timestamp" TYPE TIMESTAMPTZ USING "timestamp" AT TIME ZONE 'UTC';
      ALTER TABLE messages ALTER COLUMN "timestamp" SET DEFAULT now();
      ALTER TABLE messages ALTER COLUMN is_read SET DEFAULT false;

      -- Inbox and outbox pages are keyset scans, newest first, per user.
      CREATE INDEX IF NOT EXISTS messages_recipient_id_idx ON messages (recipient_id, id DESC);
      CREATE INDEX IF NOT EXISTS messages_sender_id_idx ON messages (sender_id, id DESC);
      -- The unread count and the unread filter touch only unread rows.
      CREATE INDEX IF NOT EXISTS messages_recipient_unread_idx ON messages (recipient_id, id DESC) WHERE NOT is_read;
    `,
  },
  {
    version: 2,
    name: "login and registration counters",
    sql: `
      -- shared/throttle.ts: one row per counter, in the layout rate-limiter-flexible's
      -- RateLimiterPostgres reads and writes (told the table exists, it never creates one).
      -- A counter is one primary-key upsert; expire is epoch milliseconds.
      CREATE TABLE IF NOT EXISTS rate_limits (
        key VARCHAR(255) PRIMARY KEY,
        points INTEGER NOT NULL DEFAULT 0,
        expire BIGINT
      );
      -- The sweep of expired counters reads only those.
      CREATE INDEX IF NOT EXISTS rate_limits_expire_idx ON rate_limits (expire);
    `,
  },
];
