/**
 * A party's copy of a message (docs/mail-model.md): the sender's and each recipient's, holding
 * that party's folder, read state, star and deletion, and the thread as that party may see it.
 * The columns are declared here once; migration 12 creates the table from them, and the
 * definitions below are what its triggers and partial indexes were built with. Changing one
 * needs a new migration that rebuilds them.
 */

import { RECEIVED_FOLDERS, SENT_FOLDERS, type CopyKind } from "../domain/folders";

// The folders are the domain's (events name them too); re-exported for the SQL's users here.
export { FOLDERS, RECEIVED_FOLDERS, SENT_FOLDERS, type CopyKind, type Folder } from "../domain/folders";

const inList = (folders: readonly string[]) => `folder IN (${folders.map((f) => `'${f}'`).join(", ")})`;
export const RECEIVED_FOLDER_CHECK = inList(RECEIVED_FOLDERS);
export const SENT_FOLDER_CHECK = inList(SENT_FOLDERS);

const COPY_COLUMN_TYPES = {
  user_id: "INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE",
  message_id: "INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE",
  /** false for the sender's copy (a note to oneself has both). */
  received: "BOOLEAN NOT NULL",
  folder: "TEXT NOT NULL",
  is_read: "BOOLEAN NOT NULL DEFAULT false",
  read_at: "TIMESTAMPTZ",
  is_starred: "BOOLEAN NOT NULL DEFAULT false",
  /** Set while the copy is in trash: the sweep erases it TRASH_RETENTION_DAYS later. */
  trashed_at: "TIMESTAMPTZ",
  // The message's own, repeated so that every filter is one index over one user's copies.
  sender_id: "INTEGER NOT NULL",
  '"timestamp"': "TIMESTAMPTZ NOT NULL",
  /** The first message of the conversation that this party has: never one they cannot see. */
  thread_id: "INTEGER NOT NULL",
  /** The message replied to, when this party has it; else NULL. */
  in_reply_to: "INTEGER",
  has_attachments: "BOOLEAN NOT NULL DEFAULT false",
  /** addresseeKey(user_id, id) for each addressee this party may see (the `to` filter's GIN index). */
  addressee_keys: "BIGINT[] NOT NULL DEFAULT '{}'",
} as const;

export const COPY_COLUMNS = Object.keys(COPY_COLUMN_TYPES).join(", ");
export const COPY_COLUMNS_DDL = Object.entries(COPY_COLUMN_TYPES)
  .map(([name, type]) => `${name} ${type}`)
  .join(",\n        ");

/** The `received` column of the copy a request names (null: any). */
export const receivedOf = (copy: CopyKind | undefined): boolean | null => (copy === undefined ? null : copy === "received");

/** A received copy not yet read (in any folder; `unread_count` is the inbox's). */
export const COPY_UNREAD = "received AND NOT is_read";

/** The key of (owner, addressee) in addressee_keys: one GIN lookup finds one owner's copies to one addressee. */
export const ADDRESSEE_KEY_SQL = (owner: string, addressee: string) => `(${owner})::bigint * 4294967296 + (${addressee})`;

/**
 * ADDRESSEE_KEY_SQL of one owner and each of an int[] of addressees, as a bigint[]: the array
 * unnested in the select list (one node over its elements, not a subquery scanning them).
 */
export const ADDRESSEE_KEYS_SQL = (owner: string, addressees: string) =>
  `ARRAY(SELECT ${ADDRESSEE_KEY_SQL(owner, `unnest(${addressees})`)})`;

/**
 * The one order in which statements lock several copies: by owner, then message, the received copy
 * before the sender's. A statement that updates or deletes many copies in whatever order its plan
 * scans them can hold one that another change, locking in this order, holds the next of: a deadlock.
 */
export const COPY_LOCK_ORDER = "user_id, message_id, received DESC";

/**
 * A CTE `locked` with the keys of the copies `where` selects, locked in COPY_LOCK_ORDER before the
 * statement that joins it (on LOCKED_COPY, as `c` and `l`) changes them.
 */
export const lockedCopies = (where: string) =>
  `locked AS MATERIALIZED (SELECT user_id, message_id, received FROM message_copies WHERE ${where} ORDER BY ${COPY_LOCK_ORDER} FOR UPDATE)`;
export const LOCKED_COPY = "c.user_id = l.user_id AND c.message_id = l.message_id AND c.received = l.received";
