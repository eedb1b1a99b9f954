/**
 * Versioned schema changes, applied in order by `migrate()`. Never edit a released entry:
 * add a new one. Column names follow the original service's SQLAlchemy models so an
 * existing database can be migrated in place (hence IF NOT EXISTS everywhere in 1).
 */
import { ADDRESSEE_KEY_SQL, COPY_COLUMNS, COPY_COLUMNS_DDL, COPY_UNREAD, RECEIVED_FOLDER_CHECK, SENT_FOLDER_CHECK } from "./copies";
import type { Queryable } from "./db";
import { COUNT_COPIES, COUNTED_COPIES_MIGRATION, COUNTED_MESSAGE_SETTING } from "./mailbox-counters";
import { IN_RECIPIENT_MAILBOX, UNREAD } from "./unread";

export interface Migration {
  version: number;
  name: string;
  /** Applied in one transaction, together with recording the version. */
  sql?: string;
  /** Work SQL cannot do (data computed in the app), run after `sql` in the same transaction. */
  data?: (tx: Queryable) => Promise<void>;
  /**
   * Indexes built with CREATE INDEX CONCURRENTLY (no lock that stops writes), which cannot run
   * inside a transaction: `migrate()` builds each on its own, replacing a half-built (invalid)
   * one left by an interrupted run, and records the version only when all are valid.
   */
  concurrentIndexes?: { name: string; table: string; definition: string }[];
  /** Indexes dropped with DROP INDEX CONCURRENTLY after the new ones are built. */
  dropIndexesConcurrently?: string[];
  /**
   * A data change too large for one transaction: `sql` first (its own transaction), then
   * `statement` for id ranges of `batchSize` ($1 first id, $2 last) over `table`'s ids as they
   * were when the step began, each batch in its own transaction, so the table stays writable
   * throughout. It must be safe to repeat: an interrupted run starts over, and the version is
   * recorded after the last batch.
   */
  backfill?: { table: string; batchSize: number; statement: string };
}

// The deltas of one statement's changes to copies, as a trigger's statement.
const COUNTERS_UPSERT = (deltas: string) => `${COUNT_COPIES(deltas)};`;

// The change one statement makes to its owners' pending uploads (those not yet attached), summed
// per owner and applied in key order, to counters that exist: a counter goes with its account.
const PENDING_COUNTS_APPLY = (changes: string) => `
        INSERT INTO attachment_pending_counts AS c (owner_id, count, bytes)
        SELECT owner_id, sum(n)::int, sum(size)::bigint FROM (${changes}) d
         WHERE owner_id IS NOT NULL AND EXISTS (SELECT 1 FROM attachment_pending_counts e WHERE e.owner_id = d.owner_id)
         GROUP BY owner_id HAVING sum(n) <> 0 OR sum(size) <> 0 ORDER BY owner_id
        ON CONFLICT (owner_id) DO UPDATE SET count = c.count + excluded.count, bytes = c.bytes + excluded.bytes;`;
const PENDING_OUT = "SELECT owner_id, -1 AS n, -size AS size FROM old_rows WHERE message_id IS NULL";
const PENDING_IN = "SELECT owner_id, 1, size FROM new_rows WHERE message_id IS NULL";

// The copies' insert trigger from migration 25 counts the new copies other than those of the message
// the statement counted itself (COUNTED_MESSAGE_SETTING, shared/data/mailbox-counters.ts).
const COUNTED_BY_THE_STATEMENT = `counted integer := nullif(current_setting('${COUNTED_MESSAGE_SETTING}', true), '')::integer;`;
const UNCOUNTED_COPY = "n.message_id IS DISTINCT FROM counted";
const UNCOUNTED_DELTAS = `SELECT d.* FROM new_rows n CROSS JOIN LATERAL mailbox_counter_deltas(n, 1) d WHERE ${UNCOUNTED_COPY}`;

/** The copies of the old shape's rows among a statement's new rows (`new_rows`), by the view of migration 12. */
const LEGACY_COPIES_OF_NEW_ROWS = `INSERT INTO message_copies (${COPY_COLUMNS})
        SELECT ${COPY_COLUMNS.split(", ")
          .map((c) => `v.${c}`)
          .join(", ")}
          FROM new_rows n CROSS JOIN LATERAL (SELECT * FROM message_legacy_copies l WHERE l.message_id = n.id) v
         WHERE n.to_ids IS NULL
        ON CONFLICT (user_id, message_id, received) DO NOTHING;`;

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
      -- shared/auth/throttle.ts: one row per counter, in the layout rate-limiter-flexible's
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
  {
    version: 3,
    name: "idempotency keys for sending messages",
    sql: `
      -- One row per (sender, Idempotency-Key) sent in the last 24 hours: what the request
      -- asked for (a fingerprint) and the answer it got, replayed to a retry.
      CREATE TABLE idempotency_keys (
        sender_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        key VARCHAR(255) NOT NULL,
        fingerprint TEXT NOT NULL,
        -- NULL only inside the transaction that claimed the key; it commits with the answer.
        response JSON,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        PRIMARY KEY (sender_id, key)
      );
      -- The sweep deletes the oldest expired keys, a bounded batch at a time.
      CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);
    `,
  },
  {
    version: 4,
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
    version: 5,
    name: "mailbox indexes, built without blocking writes",
    concurrentIndexes: [
      { name: "messages_search_idx", table: "messages", definition: "USING gin (mail_search_document(title, body))" },
      // Only replies carry a thread_id; a thread's root is found by its primary key.
      { name: "messages_thread_idx", table: "messages", definition: "(thread_id, id) WHERE thread_id IS NOT NULL" },
      // The unread count and filter skip messages the recipient deleted.
      {
        name: "messages_recipient_unread_visible_idx",
        table: "messages",
        definition: `(recipient_id, id DESC) WHERE ${UNREAD}`,
      },
    ],
    dropIndexesConcurrently: ["messages_recipient_unread_idx"],
  },
  {
    version: 6,
    name: "unread counter",
    // The unread count (unread messages still in the recipient's mailbox) is read on every
    // send, read and socket connect: a counter kept by statement-level triggers in the same
    // transaction as every change to messages (so no code path can forget it, and a
    // mark-all-read of 10,000 rows updates it once, not 10,000 times). The UPDATE of the
    // user's row serialises concurrent changes, so the count stays exact. A message the
    // recipient deleted is not counted, and erasing it later (when the sender deletes it too)
    // changes nothing. The lock holds writes back until this migration commits, so the fill
    // sees every row written before, and every later write fires a trigger.
    sql: `
      LOCK TABLE messages IN SHARE ROW EXCLUSIVE MODE;
      ALTER TABLE users ADD COLUMN IF NOT EXISTS unread_count INTEGER NOT NULL DEFAULT 0;

      -- Each function sees only the transition tables its trigger declares.
      CREATE OR REPLACE FUNCTION messages_unread_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        UPDATE users u SET unread_count = u.unread_count + c.n
          FROM (SELECT recipient_id, count(*)::int AS n FROM new_rows
                 WHERE ${UNREAD} GROUP BY recipient_id) c
         WHERE u.id = c.recipient_id;
        RETURN NULL;
      END $$;
      CREATE OR REPLACE FUNCTION messages_unread_after_update() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        UPDATE users u SET unread_count = u.unread_count + c.delta
          FROM (SELECT recipient_id, sum(delta)::int AS delta
                  FROM (SELECT recipient_id, 1 AS delta FROM new_rows WHERE ${UNREAD}
                        UNION ALL
                        SELECT recipient_id, -1 FROM old_rows WHERE ${UNREAD}) d
                 GROUP BY recipient_id HAVING sum(delta) <> 0) c
         WHERE u.id = c.recipient_id;
        RETURN NULL;
      END $$;
      CREATE OR REPLACE FUNCTION messages_unread_after_delete() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        UPDATE users u SET unread_count = u.unread_count - c.n
          FROM (SELECT recipient_id, count(*)::int AS n FROM old_rows
                 WHERE ${UNREAD} GROUP BY recipient_id) c
         WHERE u.id = c.recipient_id;
        RETURN NULL;
      END $$;

      DROP TRIGGER IF EXISTS messages_unread_on_insert ON messages;
      DROP TRIGGER IF EXISTS messages_unread_on_update ON messages;
      DROP TRIGGER IF EXISTS messages_unread_on_delete ON messages;
      CREATE TRIGGER messages_unread_on_insert AFTER INSERT ON messages
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION messages_unread_after_insert();
      CREATE TRIGGER messages_unread_on_update AFTER UPDATE ON messages
        REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION messages_unread_after_update();
      CREATE TRIGGER messages_unread_on_delete AFTER DELETE ON messages
        REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION messages_unread_after_delete();

      UPDATE users u SET unread_count = coalesce(c.n, 0)
        FROM users x LEFT JOIN (SELECT recipient_id, count(*)::int AS n FROM messages
                                  WHERE ${UNREAD} GROUP BY recipient_id) c ON c.recipient_id = x.id
       WHERE u.id = x.id AND u.unread_count IS DISTINCT FROM coalesce(c.n, 0);
    `,
  },
  {
    version: 7,
    name: "mailbox list indexes the planner cannot trade for a primary-key scan",
    // The inbox and outbox pages are ordered by id::bigint (shared/data/messages.ts), which only
    // these indexes provide: ordered by plain id, the planner may walk messages_pkey backwards and
    // filter out every newer message to anyone else, since it assumes each user's mail is spread
    // evenly over the ids. Each index holds only the rows its list shows, so messages deleted from
    // the mailbox (or read, for the unread filter) are skipped without a visit to the table.
    concurrentIndexes: [
      { name: "messages_inbox_idx", table: "messages", definition: `(recipient_id, (id::bigint) DESC) WHERE ${IN_RECIPIENT_MAILBOX}` },
      {
        name: "messages_inbox_unread_idx",
        table: "messages",
        definition: `(recipient_id, (id::bigint) DESC) WHERE ${UNREAD}`,
      },
      { name: "messages_outbox_idx", table: "messages", definition: "(sender_id, (id::bigint) DESC) WHERE sender_deleted_at IS NULL" },
    ],
    // Same rows and leading column as messages_inbox_unread_idx, which now serves mark-all-read too.
    // messages_recipient_id_idx and messages_sender_id_idx stay: deleting a user cascades through them.
    dropIndexesConcurrently: ["messages_recipient_unread_visible_idx"],
  },
  {
    version: 9,
    name: "confusable usernames; idempotency keys without message text",
    // Usernames: the confusable skeletons of each name, case kept and folded (shared/domain/usernames.ts),
    // are computed by the app, so they are filled by `data` below. Not a unique index: names that
    // already look alike must keep working; registration checks under a lock (shared/data/users.ts).
    // Idempotency keys: the stored answer (the message's text) gives way to the message's id;
    // a replay reads the message, and a message both parties deleted leaves no text behind.
    sql: `
      ALTER TABLE users ADD COLUMN IF NOT EXISTS username_skeleton TEXT, ADD COLUMN IF NOT EXISTS username_skeleton_folded TEXT;
      CREATE INDEX IF NOT EXISTS users_username_skeleton_idx ON users (username_skeleton);
      CREATE INDEX IF NOT EXISTS users_username_skeleton_folded_idx ON users (username_skeleton_folded);
      -- Rows written without skeletons (by other code) are found and keyed by the next registration.
      CREATE INDEX IF NOT EXISTS users_unkeyed_idx ON users (id) WHERE username_skeleton IS NULL;

      ALTER TABLE idempotency_keys ADD COLUMN IF NOT EXISTS message_id INTEGER;
      UPDATE idempotency_keys SET message_id = (response->>'id')::int WHERE response IS NOT NULL;
      -- A claim that never committed has no answer; any such row is an expired leftover.
      DELETE FROM idempotency_keys WHERE message_id IS NULL;
      ALTER TABLE idempotency_keys DROP COLUMN IF EXISTS response;
    `,
    data: async (tx) => {
      const { fillUsernameKeys } = await import("./users.js");
      await fillUsernameKeys(tx);
    },
  },
  {
    version: 10,
    name: "per-user event log and open sockets",
    // The event log is a transactional outbox (shared/data/event-log.ts): each user's counter row
    // is bumped in the transaction of the change, so its lock numbers that user's events in
    // commit order. The counters are a table of their own, not a column of users, so that their
    // locks never take part in the users-row locks the unread-count triggers take. Payloads are
    // json, not jsonb, so a frame comes back with its keys in the order it was pushed. The log
    // has no foreign key: each insert would lock the user's row again for nothing.
    sql: `
      CREATE TABLE IF NOT EXISTS user_event_counters (
        user_id INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
        seq BIGINT NOT NULL
      );
      CREATE TABLE IF NOT EXISTS user_events (
        user_id INTEGER NOT NULL,
        seq BIGINT NOT NULL,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        payload JSON NOT NULL,
        PRIMARY KEY (user_id, seq)
      );
      -- The retention sweep deletes the oldest events in batches.
      CREATE INDEX IF NOT EXISTS user_events_created_at_idx ON user_events (created_at);

      -- Open sockets, from Web PubSub's connected and disconnected events (shared/data/sockets.ts).
      CREATE TABLE IF NOT EXISTS socket_connections (
        connection_id TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        connected_at TIMESTAMPTZ NOT NULL DEFAULT now()
      );
      CREATE INDEX IF NOT EXISTS socket_connections_user_idx ON socket_connections (user_id);
      CREATE INDEX IF NOT EXISTS socket_connections_connected_at_idx ON socket_connections (connected_at);
      -- The token-expiry groups whose sockets the sweep has still to close.
      CREATE TABLE IF NOT EXISTS socket_expiries (expires_at TIMESTAMPTZ PRIMARY KEY);
    `,
  },
  {
    version: 11,
    name: "import from the original service: what each original row became",
    // npm run import-original (tools/import/) records every original row it has handled,
    // in the batch's transaction, so a rerun skips them and a killed run resumes. The ids are
    // plain integers, not foreign keys: a key would make every later delete of a message or user
    // look this table up. actions names the rules applied (tools/import/rules.ts).
    sql: `
      CREATE TABLE IF NOT EXISTS import_original_users (
        original_id INTEGER PRIMARY KEY,
        user_id INTEGER NOT NULL,
        -- NULL for a placeholder standing in for a user id that messages name but no row has.
        original_username TEXT,
        actions TEXT[] NOT NULL DEFAULT '{}'
      );
      CREATE TABLE IF NOT EXISTS import_original_messages (
        original_id INTEGER PRIMARY KEY,
        -- NULL when the message was skipped (see actions).
        message_id INTEGER,
        actions TEXT[] NOT NULL DEFAULT '{}'
      );
    `,
  },
  {
    version: 12,
    name: "mail model: one stored message, one copy per party, counters per folder",
    // docs/mail-model.md tells the model. Only new objects and quick catalog changes, so the old
    // code keeps serving: it still writes messages in the old shape (one recipient, read and
    // deletion state on the row), and the triggers below give every such row its two copies and
    // follow its changes. Rows written before this migration get theirs from migration 13.
    sql: `
      -- The old code locks messages before users (a write's trigger and foreign keys reach users
      -- from messages): taken in that order here, a write in flight waits instead of deadlocking.
      LOCK TABLE messages IN ACCESS EXCLUSIVE MODE;
      LOCK TABLE users IN ACCESS EXCLUSIVE MODE;
      ALTER TABLE users ADD COLUMN IF NOT EXISTS deleted_at TIMESTAMPTZ;
      ALTER TABLE messages
        ADD COLUMN IF NOT EXISTS to_ids INTEGER[],
        ADD COLUMN IF NOT EXISTS cc_ids INTEGER[],
        ADD COLUMN IF NOT EXISTS bcc_ids INTEGER[],
        ADD COLUMN IF NOT EXISTS attachment_count INTEGER NOT NULL DEFAULT 0;

      CREATE TABLE IF NOT EXISTS message_copies (
        ${COPY_COLUMNS_DDL},
        PRIMARY KEY (user_id, message_id, received),
        CONSTRAINT message_copies_folder_check CHECK (CASE WHEN received THEN ${RECEIVED_FOLDER_CHECK} ELSE ${SENT_FOLDER_CHECK} END),
        CONSTRAINT message_copies_trash_check CHECK ((folder = 'trash') = (trashed_at IS NOT NULL))
      );
      -- Every list is one user's copies in the order of one of these indexes (shared/data/messages.ts).
      -- They hold the order as message_id::bigint, which no other index provides: the planner
      -- cannot trade them for a walk of the primary key filtered to a folder (as migration 7).
      CREATE INDEX IF NOT EXISTS message_copies_folder_idx ON message_copies (user_id, folder, (message_id::bigint) DESC);
      -- Every folder but trash (trashed_at is set exactly in trash).
      CREATE INDEX IF NOT EXISTS message_copies_live_idx ON message_copies (user_id, (message_id::bigint) DESC) WHERE trashed_at IS NULL;
      CREATE INDEX IF NOT EXISTS message_copies_unread_idx ON message_copies (user_id, folder, (message_id::bigint) DESC) WHERE ${COPY_UNREAD};
      CREATE INDEX IF NOT EXISTS message_copies_starred_idx ON message_copies (user_id, (message_id::bigint) DESC) WHERE is_starred;
      CREATE INDEX IF NOT EXISTS message_copies_from_idx ON message_copies (user_id, sender_id, (message_id::bigint) DESC);
      CREATE INDEX IF NOT EXISTS message_copies_time_idx ON message_copies (user_id, "timestamp" DESC);
      CREATE INDEX IF NOT EXISTS message_copies_attachments_idx ON message_copies (user_id, (message_id::bigint) DESC) WHERE has_attachments;
      CREATE INDEX IF NOT EXISTS message_copies_thread_idx ON message_copies (user_id, thread_id, message_id);
      -- One key per (owner, addressee the owner may see): user_id * 2^32 + addressee id.
      CREATE INDEX IF NOT EXISTS message_copies_addressee_idx ON message_copies USING gin (addressee_keys);
      -- The read receipts of a message and the erasure of its last copy look copies up by message.
      -- A hash index: it answers equality only, so the planner can never walk it in message order
      -- and filter by user (the trap migration 7 describes) instead of using a user's own index.
      CREATE INDEX IF NOT EXISTS message_copies_message_idx ON message_copies USING hash (message_id);
      CREATE INDEX IF NOT EXISTS message_copies_trashed_idx ON message_copies (trashed_at) WHERE folder = 'trash';

      -- Counters per user and folder ('starred' counts starred copies outside trash), kept by a
      -- statement-level trigger in the transaction of every change to copies, as migration 6 did
      -- for the unread count: exact under concurrency, one upsert per statement, in key order.
      CREATE TABLE IF NOT EXISTS mailbox_counters (
        user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        folder TEXT NOT NULL,
        total INTEGER NOT NULL DEFAULT 0,
        unread INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (user_id, folder)
      );
      CREATE OR REPLACE FUNCTION mailbox_counter_deltas(r message_copies, sign integer)
        RETURNS TABLE (user_id integer, folder text, total integer, unread integer)
        LANGUAGE sql IMMUTABLE AS $fn$
        SELECT r.user_id, r.folder, sign, CASE WHEN r.received AND NOT r.is_read THEN sign ELSE 0 END
        UNION ALL
        SELECT r.user_id, 'starred', sign, CASE WHEN r.received AND NOT r.is_read THEN sign ELSE 0 END
         WHERE r.is_starred AND r.folder <> 'trash'
      $fn$;
      CREATE OR REPLACE FUNCTION mailbox_counters_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        ${COUNTERS_UPSERT("SELECT d.* FROM new_rows n CROSS JOIN LATERAL mailbox_counter_deltas(n, 1) d")}
        RETURN NULL;
      END $$;
      CREATE OR REPLACE FUNCTION mailbox_counters_after_update() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        ${COUNTERS_UPSERT(`SELECT d.* FROM new_rows n CROSS JOIN LATERAL mailbox_counter_deltas(n, 1) d
          UNION ALL SELECT d.* FROM old_rows o CROSS JOIN LATERAL mailbox_counter_deltas(o, -1) d`)}
        RETURN NULL;
      END $$;
      CREATE OR REPLACE FUNCTION mailbox_counters_after_delete() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        ${COUNTERS_UPSERT("SELECT d.* FROM old_rows o CROSS JOIN LATERAL mailbox_counter_deltas(o, -1) d")}
        RETURN NULL;
      END $$;
      DROP TRIGGER IF EXISTS message_copies_count_insert ON message_copies;
      DROP TRIGGER IF EXISTS message_copies_count_update ON message_copies;
      DROP TRIGGER IF EXISTS message_copies_count_delete ON message_copies;
      CREATE TRIGGER message_copies_count_insert AFTER INSERT ON message_copies
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION mailbox_counters_after_insert();
      CREATE TRIGGER message_copies_count_update AFTER UPDATE ON message_copies
        REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION mailbox_counters_after_update();
      CREATE TRIGGER message_copies_count_delete AFTER DELETE ON message_copies
        REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION mailbox_counters_after_delete();

      -- The copies of a message in the old shape (to_ids NULL: its one recipient is recipient_id),
      -- for each side that has not deleted it. in_reply_to and thread_id name only messages that
      -- side can see: the thread starts at the first message of it the side has.
      CREATE OR REPLACE FUNCTION mail_legacy_visible(m messages, party integer) RETURNS boolean
        LANGUAGE sql STABLE AS $fn$
        SELECT (m.sender_id = party AND m.sender_deleted_at IS NULL) OR (m.recipient_id = party AND m.recipient_deleted_at IS NULL)
      $fn$;
      CREATE OR REPLACE VIEW message_legacy_copies AS
        SELECT p.user_id, n.id AS message_id, p.received,
               CASE WHEN p.received THEN 'inbox' ELSE 'sent' END AS folder,
               CASE WHEN p.received THEN n.is_read ELSE true END AS is_read,
               CASE WHEN p.received THEN n.read_at END AS read_at,
               false AS is_starred, NULL::timestamptz AS trashed_at, n.sender_id, n."timestamp",
               CASE WHEN n.thread_id IS NULL THEN n.id ELSE coalesce(
                 (SELECT min(x.id) FROM messages x WHERE (x.id = n.thread_id OR x.thread_id = n.thread_id) AND mail_legacy_visible(x, p.user_id)),
                 n.id) END AS thread_id,
               (SELECT x.id FROM messages x WHERE x.id = n.in_reply_to AND mail_legacy_visible(x, p.user_id)) AS in_reply_to,
               false AS has_attachments,
               ARRAY[${ADDRESSEE_KEY_SQL("p.user_id", "n.recipient_id")}] AS addressee_keys
          FROM messages n
          CROSS JOIN LATERAL (VALUES (n.sender_id, false, n.sender_deleted_at), (n.recipient_id, true, n.recipient_deleted_at)) p(user_id, received, deleted_at)
         WHERE n.to_ids IS NULL AND p.deleted_at IS NULL;

      -- One statement for a whole insert (the import writes thousands of rows at once); each new
      -- row is looked up by its id, so the cost follows the rows inserted, not the table.
      CREATE OR REPLACE FUNCTION messages_legacy_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        ${LEGACY_COPIES_OF_NEW_ROWS}
        RETURN NULL;
      END $$;
      CREATE OR REPLACE FUNCTION messages_legacy_after_update() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        DELETE FROM message_copies c WHERE c.message_id = NEW.id
           AND ((c.received AND NEW.recipient_deleted_at IS NOT NULL) OR (NOT c.received AND NEW.sender_deleted_at IS NOT NULL));
        INSERT INTO message_copies (${COPY_COLUMNS})
        SELECT ${COPY_COLUMNS} FROM message_legacy_copies WHERE message_id = NEW.id
        ON CONFLICT (user_id, message_id, received) DO UPDATE SET is_read = excluded.is_read, read_at = excluded.read_at
          WHERE (message_copies.is_read, message_copies.read_at) IS DISTINCT FROM (excluded.is_read, excluded.read_at);
        RETURN NULL;
      END $$;
      -- The old code's changes, a row at a time: a message in the new shape never calls the function.
      DROP TRIGGER IF EXISTS messages_legacy_insert ON messages;
      DROP TRIGGER IF EXISTS messages_legacy_update ON messages;
      CREATE TRIGGER messages_legacy_insert AFTER INSERT ON messages
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION messages_legacy_after_insert();
      CREATE TRIGGER messages_legacy_update AFTER UPDATE OF is_read, read_at, sender_deleted_at, recipient_deleted_at ON messages
        FOR EACH ROW WHEN (NEW.to_ids IS NULL) EXECUTE FUNCTION messages_legacy_after_update();

      -- The unread count now lives in mailbox_counters (inbox, unread); users.unread_count is
      -- left as it is for the old code until the clean-up migration drops it.
      DROP TRIGGER IF EXISTS messages_unread_on_insert ON messages;
      DROP TRIGGER IF EXISTS messages_unread_on_update ON messages;
      DROP TRIGGER IF EXISTS messages_unread_on_delete ON messages;
    `,
  },
  {
    version: 13,
    name: "mail model: copies of the messages written before it, in batches",
    // Each batch, in its own short transaction, first share-locks its rows (a write of the old
    // code in flight is waited for, and none can start until the batch commits), then inserts
    // their copies in a second statement, whose fresh snapshot sees every change committed before
    // the lock: a read or a per-side deletion made meanwhile is never undone by a stale copy. A
    // copy the trigger of migration 12 wrote first is kept. Safe to repeat, so an interrupted run
    // is finished by the next one.
    sql: `
      CREATE OR REPLACE FUNCTION mail_backfill_copies(first_id integer, last_id integer) RETURNS void LANGUAGE plpgsql AS $$
      DECLARE
        ids integer[];
      BEGIN
        SELECT array_agg(id) INTO ids FROM (SELECT id FROM messages WHERE id BETWEEN first_id AND last_id AND to_ids IS NULL FOR SHARE) l;
        INSERT INTO message_copies (${COPY_COLUMNS})
        SELECT ${COPY_COLUMNS} FROM message_legacy_copies WHERE message_id = ANY(ids)
        ON CONFLICT (user_id, message_id, received) DO NOTHING;
      END $$;
    `,
    backfill: { table: "messages", batchSize: 5_000, statement: "SELECT mail_backfill_copies($1, $2)" },
  },
  {
    version: 14,
    name: "mail model: the old shape's list indexes go",
    // The inbox, unread and outbox lists read copies now; these served only the old code's lists
    // and made every insert into messages pay for them. messages_recipient_id_idx and
    // messages_sender_id_idx stay (foreign keys, and the old code's fallback while it drains).
    dropIndexesConcurrently: ["messages_inbox_idx", "messages_inbox_unread_idx", "messages_outbox_idx"],
  },
  {
    version: 15,
    name: "a statement can refuse itself: mail_refuse",
    // The send is one statement (shared/data/messages.ts); when a recipient's budget, spent inside
    // it, is past its limit, the statement calls this to fail, which rolls back all it wrote.
    sql: `
      CREATE OR REPLACE FUNCTION mail_refuse(code text, detail text) RETURNS integer LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION USING ERRCODE = code, MESSAGE = detail;
      END $$;
    `,
  },
  {
    version: 16,
    name: "sessions and rotating refresh tokens; accounts dated",
    // shared/data/sessions.ts. A session is one login; its access tokens carry its id (sid) and
    // the per-request user lookup joins it, so ending a session refuses its tokens at once.
    // Refresh tokens are kept as SHA-256 digests only, spent ones included: presenting a spent
    // one again is how a stolen token is detected, and it ends the session. They go with it.
    // Accounts gain created_at: no default for the rows that exist (their date is unknown, and
    // a stable default would be stored for them), now() for every new one; catalog changes only.
    sql: `
      ALTER TABLE users ADD COLUMN IF NOT EXISTS created_at TIMESTAMPTZ;
      ALTER TABLE users ALTER COLUMN created_at SET DEFAULT now();
      CREATE TABLE IF NOT EXISTS sessions (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        last_used_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        user_agent TEXT
      );
      CREATE INDEX IF NOT EXISTS sessions_user_idx ON sessions (user_id);
      -- The sweep of idle sessions reads the oldest first.
      CREATE INDEX IF NOT EXISTS sessions_last_used_idx ON sessions (last_used_at);
      CREATE TABLE IF NOT EXISTS refresh_tokens (
        token_hash BYTEA PRIMARY KEY,
        session_id UUID NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        spent_at TIMESTAMPTZ
      );
      CREATE INDEX IF NOT EXISTS refresh_tokens_session_idx ON refresh_tokens (session_id);
    `,
  },
  {
    version: 18,
    name: "attachments: uploads and the blobs still to delete",
    // The files live in Blob Storage (shared/storage); a row is what the app knows of one. The
    // blob's name is random and not the id, so knowing an id reveals no URL. owner_id goes NULL
    // with its account: an attached file stays with the message its recipients still hold, and
    // an unattached one is swept. message_id gets its foreign key with the stored-message model
    // (migration 19). Deleting a row queues its blob in attachment_blob_deletions in the same
    // transaction, so a blob is deleted only after the rows that name it are gone for good, and
    // a delete that failed is retried by the sweep.
    sql: `
      CREATE TABLE attachments (
        id UUID PRIMARY KEY,
        owner_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
        blob_name TEXT NOT NULL UNIQUE,
        filename TEXT NOT NULL,
        content_type TEXT NOT NULL,
        size BIGINT NOT NULL CHECK (size >= 0),
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        message_id INTEGER
      );
      -- A user's pending uploads (the limits), the sweep of old ones, a message's files.
      CREATE INDEX attachments_pending_owner_idx ON attachments (owner_id) WHERE message_id IS NULL;
      CREATE INDEX attachments_pending_created_idx ON attachments (created_at) WHERE message_id IS NULL;
      CREATE INDEX attachments_message_idx ON attachments (message_id) WHERE message_id IS NOT NULL;

      CREATE TABLE attachment_blob_deletions (
        blob_name TEXT PRIMARY KEY,
        queued_at TIMESTAMPTZ NOT NULL DEFAULT now()
      );
      CREATE FUNCTION queue_attachment_blob_deletion() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        INSERT INTO attachment_blob_deletions (blob_name) VALUES (OLD.blob_name) ON CONFLICT DO NOTHING;
        RETURN OLD;
      END
      $fn$;
      CREATE TRIGGER attachments_queue_blob_deletion AFTER DELETE ON attachments
        FOR EACH ROW EXECUTE FUNCTION queue_attachment_blob_deletion();
    `,
  },
  {
    version: 19,
    name: "attachments belong to stored messages",
    // With the stored-message model (migrations 12-14) a message row goes with its last copy; its
    // attachment rows go with it (queueing their blobs, migration 18). position keeps the order
    // the sender listed them in.
    sql: `
      ALTER TABLE attachments ADD COLUMN position SMALLINT;
      ALTER TABLE attachments ADD CONSTRAINT attachments_message_id_fkey
        FOREIGN KEY (message_id) REFERENCES messages (id) ON DELETE CASCADE;
    `,
  },
  {
    version: 21,
    name: "attachments: a counter of each user's pending uploads",
    // The upload slot checks the limits and takes a place in one statement by upserting this row
    // (shared/data/attachments.ts): ON CONFLICT DO UPDATE's WHERE sees the locked, latest row, so
    // two slots cannot both take the last place. The slot counts the row it inserts; these
    // triggers count a pending upload out when it is attached, deleted (the sweep, account
    // deletion) or loses its owner, in the statement that does it. The table is locked while it
    // is counted, so no upload is made between the count and the triggers.
    sql: `
      CREATE TABLE attachment_pending_counts (
        owner_id INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
        count INTEGER NOT NULL,
        bytes BIGINT NOT NULL
      );
      LOCK TABLE attachments IN SHARE ROW EXCLUSIVE MODE;
      INSERT INTO attachment_pending_counts (owner_id, count, bytes)
      SELECT owner_id, count(*), sum(size) FROM attachments
       WHERE message_id IS NULL AND owner_id IS NOT NULL GROUP BY owner_id;
      CREATE FUNCTION attachment_pending_counts_after_update() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        ${PENDING_COUNTS_APPLY(`${PENDING_OUT} UNION ALL ${PENDING_IN}`)}
        RETURN NULL;
      END $$;
      CREATE FUNCTION attachment_pending_counts_after_delete() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        ${PENDING_COUNTS_APPLY(PENDING_OUT)}
        RETURN NULL;
      END $$;
      CREATE TRIGGER attachments_pending_count_update AFTER UPDATE ON attachments
        REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION attachment_pending_counts_after_update();
      CREATE TRIGGER attachments_pending_count_delete AFTER DELETE ON attachments
        REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION attachment_pending_counts_after_delete();
    `,
  },
  {
    version: 22,
    name: "read receipts: the sender's record of each recipient's first read, kept when that copy goes",
    // A receipt belongs to the sender: a recipient who deletes (or marks unread) a copy it has
    // read does not take the read out of the sender's read_by. Written by a trigger, so every
    // path that reads a copy (one, bulk, mark-all, import) writes it in the same statement; the
    // key serves both reads (a message's receipts, and whether a reader already has one).
    sql: `
      CREATE TABLE IF NOT EXISTS read_receipts (
        message_id integer NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
        reader_id integer NOT NULL,
        read_at timestamptz NOT NULL,
        PRIMARY KEY (message_id, reader_id)
      );
      CREATE OR REPLACE FUNCTION read_receipts_first_read() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.received AND NEW.is_read THEN
          INSERT INTO read_receipts (message_id, reader_id, read_at)
          VALUES (NEW.message_id, NEW.user_id, coalesce(NEW.read_at, now()))
          ON CONFLICT (message_id, reader_id) DO NOTHING;
        END IF;
        RETURN NULL;
      END $$;
      DROP TRIGGER IF EXISTS read_receipts_first_read ON message_copies;
      CREATE TRIGGER read_receipts_first_read AFTER INSERT OR UPDATE OF is_read ON message_copies
        FOR EACH ROW WHEN (NEW.received AND NEW.is_read) EXECUTE FUNCTION read_receipts_first_read();
      CREATE OR REPLACE FUNCTION read_receipts_backfill(first_id integer, last_id integer) RETURNS void LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO read_receipts (message_id, reader_id, read_at)
        SELECT message_id, user_id, coalesce(read_at, now()) FROM message_copies
         WHERE message_id BETWEEN first_id AND last_id AND received AND is_read
        ON CONFLICT (message_id, reader_id) DO NOTHING;
      END $$;
    `,
    backfill: { table: "messages", batchSize: 5_000, statement: "SELECT read_receipts_backfill($1, $2)" },
  },
  {
    version: 23,
    name: "read receipts leave with their message by a trigger, not a foreign key",
    // The foreign key made every first read share-lock the message row, after the copy it updated:
    // a mark-all-read beside a deletion that holds the message and waits for that copy deadlocked.
    // A receipt is written only while its copy exists, and a message is erased only once no copy
    // is left, so the trigger that deletes receipts with the message leaves none behind.
    sql: `
      -- Dropping the key locks both tables; messages first, as the old code's writes reach the
      -- receipts from messages (through the copies), so a write in flight waits instead of deadlocking.
      LOCK TABLE messages IN ACCESS EXCLUSIVE MODE;
      ALTER TABLE read_receipts DROP CONSTRAINT IF EXISTS read_receipts_message_id_fkey;
      CREATE OR REPLACE FUNCTION read_receipts_erase() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        DELETE FROM read_receipts r USING erased WHERE r.message_id = erased.id;
        RETURN NULL;
      END $$;
      DROP TRIGGER IF EXISTS read_receipts_erase ON messages;
      CREATE TRIGGER read_receipts_erase AFTER DELETE ON messages
        REFERENCING OLD TABLE AS erased FOR EACH STATEMENT EXECUTE FUNCTION read_receipts_erase();
    `,
  },
  {
    version: 24,
    name: "the since and until filters: one GiST index over a user's copies by time and id",
    // Pages are newest first by id, and these filters bound the time: a B-tree over (user, time)
    // reads every copy in the range and sorts it, one over (user, id) walks past every copy out of
    // it. The GiST index holds the range as its condition and is read nearest first to the page's
    // highest id (shared/data/messages.ts), so a page costs its own rows. It replaces the time
    // index, which served only these filters; it is not partial, so it serves trash too. Azure
    // must allow-list btree_gist on the server (infra/app/postgres.bicep, docs/deploy.md).
    sql: "CREATE EXTENSION IF NOT EXISTS btree_gist",
    concurrentIndexes: [
      { name: "message_copies_time_id_idx", table: "message_copies", definition: `USING gist (user_id, "timestamp", message_id)` },
    ],
    dropIndexesConcurrently: ["message_copies_time_idx"],
  },
  {
    version: COUNTED_COPIES_MIGRATION,
    name: "a send counts its own copies",
    // The send locked each counter with an upsert that changed nothing, for the trigger to add its
    // copy at the end of the statement: two new row versions per counter, one lock. It now adds
    // its copies' deltas itself, under the same lock, and names the message (COUNTED_BY_STATEMENT,
    // shared/data/mailbox-counters.ts); the trigger leaves that message's copies out. Copies
    // inserted by anything else (the old code's trigger, the import) are counted as before. The
    // send counts its own only once the schema has reached this version (schemaReached): an instance
    // serving ahead of its migrations leaves the counting to the trigger it finds.
    sql: `
      CREATE OR REPLACE FUNCTION mailbox_counters_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        ${COUNTED_BY_THE_STATEMENT}
      BEGIN
        ${COUNTERS_UPSERT(UNCOUNTED_DELTAS)}
        RETURN NULL;
      END $$;
    `,
  },
  {
    version: 26,
    name: "the triggers a send fires write nothing when there is nothing to write",
    // Two statement triggers run at the end of every send, while it holds its recipients'
    // counters, and each ran its write whatever it found: the old shape's (migration 12) an insert
    // into the copies, which opens every index they have and fires their own trigger, for a send
    // that writes no message of the old shape; the copies' counting trigger (migration 25) an
    // upsert of counters for copies the send counted itself. Each now looks at its new rows first.
    sql: `
      CREATE OR REPLACE FUNCTION mailbox_counters_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        ${COUNTED_BY_THE_STATEMENT}
      BEGIN
        IF NOT EXISTS (SELECT 1 FROM new_rows n WHERE ${UNCOUNTED_COPY}) THEN
          RETURN NULL;
        END IF;
        ${COUNTERS_UPSERT(UNCOUNTED_DELTAS)}
        RETURN NULL;
      END $$;
      CREATE OR REPLACE FUNCTION messages_legacy_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NOT EXISTS (SELECT 1 FROM new_rows WHERE to_ids IS NULL) THEN
          RETURN NULL;
        END IF;
        ${LEGACY_COPIES_OF_NEW_ROWS}
        RETURN NULL;
      END $$;
    `,
  },
  {
    version: 27,
    name: "copies leave with their message by a trigger, not a foreign key",
    // The key checked every copy a send inserts against the message the same statement inserted,
    // one lookup and share lock of the message row per party, at the end of the send's statement
    // while it holds its recipients' counters. A copy is only ever inserted with its message or
    // from a message row its statement holds (a send, the old shape's triggers, migration 13), and
    // a message is erased only once no copy is left; the trigger below still takes any copy left
    // with its message, as the key's cascade did. The key could not be kept past one server
    // either: copies and messages are distributed on different columns (docs/SCALING.md).
    sql: `
      -- Dropping the key locks both tables; messages first, as the old code's writes reach the
      -- copies from messages, so a write in flight waits instead of deadlocking.
      LOCK TABLE messages IN ACCESS EXCLUSIVE MODE;
      ALTER TABLE message_copies DROP CONSTRAINT IF EXISTS message_copies_message_id_fkey;
      CREATE OR REPLACE FUNCTION message_copies_erase() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        DELETE FROM message_copies c USING erased WHERE c.message_id = erased.id;
        RETURN NULL;
      END $$;
      DROP TRIGGER IF EXISTS message_copies_erase ON messages;
      CREATE TRIGGER message_copies_erase AFTER DELETE ON messages
        REFERENCING OLD TABLE AS erased FOR EACH STATEMENT EXECUTE FUNCTION message_copies_erase();
    `,
  },
  {
    version: 28,
    name: "copies leave with their user by a trigger, not a foreign key",
    // The key looked up and share-locked the owner's row for every copy a send inserts, one
    // lookup per party. The send's statement holds those rows itself: each recipient's FOR SHARE
    // (it stores nothing for a recipient gone or deleted) and the sender's by the message's own key
    // to users; the old shape's copies come from a message row whose keys hold both. A user's row
    // is never deleted by the app (an account's deletion leaves it as a tombstone); should one be,
    // the trigger takes its copies first, while its counters are still there to count them out:
    // the key's cascade ran after the counters' own and failed on them (mailbox_counters' key).
    sql: `
      -- Dropping the key locks both tables; users first, as a send's statement and an account's
      -- deletion lock users before the copies, so one in flight waits instead of deadlocking.
      LOCK TABLE users IN ACCESS EXCLUSIVE MODE;
      ALTER TABLE message_copies DROP CONSTRAINT IF EXISTS message_copies_user_id_fkey;
      CREATE OR REPLACE FUNCTION message_copies_leave_with_user() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        DELETE FROM message_copies WHERE user_id = OLD.id;
        RETURN OLD;
      END $$;
      DROP TRIGGER IF EXISTS message_copies_leave_with_user ON users;
      CREATE TRIGGER message_copies_leave_with_user BEFORE DELETE ON users
        FOR EACH ROW EXECUTE FUNCTION message_copies_leave_with_user();
    `,
  },
];
