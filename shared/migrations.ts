/**
 * Versioned schema changes, applied in order by `migrate()`. Never edit a released entry:
 * add a new one. Column names follow the original service's SQLAlchemy models so an
 * existing database can be migrated in place (hence IF NOT EXISTS everywhere in 1).
 */
export interface Migration {
  version: number;
  name: string;
  /** Applied in one transaction, together with recording the version. */
  sql?: string;
  /**
   * Indexes built with CREATE INDEX CONCURRENTLY (no lock that stops writes), which cannot run
   * inside a transaction: `migrate()` builds each on its own, replacing a half-built (invalid)
   * one left by an interrupted run, and records the version only when all are valid.
   */
  concurrentIndexes?: { name: string; table: string; definition: string }[];
  /** Indexes dropped with DROP INDEX CONCURRENTLY after the new ones are built. */
  dropIndexesConcurrently?: string[];
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
  // 2, 3 and 4 are taken by work merged separately (login throttling, idempotency keys, an unread counter).
  {
    version: 5,
    name: "mailbox: replies, threads, per-side deletion, search normalisation",
    // Only catalog changes: nullable columns without a default are added without rewriting or
    // scanning the table, so a large messages table is locked for milliseconds. Existing rows
    // need no backfill: thread_id NULL means "the message is its own thread".
    sql: `
      ALTER TABLE messages
        ADD COLUMN IF NOT EXISTS in_reply_to INTEGER,
        ADD COLUMN IF NOT EXISTS thread_id INTEGER,
        ADD COLUMN IF NOT EXISTS sender_deleted_at TIMESTAMPTZ,
        ADD COLUMN IF NOT EXISTS recipient_deleted_at TIMESTAMPTZ;

      -- Search folds case and accents in SQL with built-in immutable functions (no unaccent,
      -- which Azure and the embedded database would need to allow-list): NFKD splits "ã" into
      -- "a" + a combining mark, the marks are dropped, and letters NFKD keeps whole are mapped.
      -- An index depends on these: change them only with a new function and a new index.
      CREATE OR REPLACE FUNCTION mail_fold(t text) RETURNS text
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $fn$
        SELECT replace(replace(replace(translate(
          regexp_replace(normalize(lower(t), NFKD), '[\\u0300-\\u036f\\u1ab0-\\u1aff\\u1dc0-\\u1dff\\u20d0-\\u20ff\\ufe20-\\ufe2f]', '', 'g'),
          'øđħłŀıŧ', 'odhllit'), 'æ', 'ae'), 'œ', 'oe'), 'ß', 'ss')
      $fn$;
      -- The words of a message, as the search index stores them. Index builds run with a
      -- search_path of pg_catalog only (PostgreSQL 17+), hence the captured one.
      CREATE OR REPLACE FUNCTION mail_search_document(title text, body text) RETURNS tsvector
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE SET search_path FROM CURRENT AS $fn$
        SELECT to_tsvector('simple'::regconfig, mail_fold(title || ' ' || body))
      $fn$;
      -- Every word of q, each matching any word that starts with it ("nao" finds "Não").
      CREATE OR REPLACE FUNCTION mail_search_query(q text) RETURNS tsquery
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE SET search_path FROM CURRENT AS $fn$
        SELECT coalesce(string_agg(quote_literal(lexeme) || ':*', ' & '), '')::tsquery
          FROM unnest(to_tsvector('simple'::regconfig, mail_fold(q)))
      $fn$;
    `,
  },
  {
    version: 6,
    name: "mailbox indexes, built without blocking writes",
    concurrentIndexes: [
      { name: "messages_search_idx", table: "messages", definition: "USING gin (mail_search_document(title, body))" },
      // Only replies carry a thread_id; a thread's root is found by its primary key.
      { name: "messages_thread_idx", table: "messages", definition: "(thread_id, id) WHERE thread_id IS NOT NULL" },
      // The unread count and filter skip messages the recipient deleted.
      {
        name: "messages_recipient_unread_visible_idx",
        table: "messages",
        definition: "(recipient_id, id DESC) WHERE NOT is_read AND recipient_deleted_at IS NULL",
      },
    ],
    dropIndexesConcurrently: ["messages_recipient_unread_idx"],
  },
];
