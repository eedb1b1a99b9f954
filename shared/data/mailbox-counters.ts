/**
 * How mailbox_counters (each user's total and unread per folder, and starred) follow the copies:
 * the copies' triggers (migrations 12 and 25) add each statement's deltas, and a statement that
 * inserts copies may add them itself and say so, as the send does (shared/data/messages.ts).
 */

/**
 * The copies' triggers' statement: adds the deltas (rows of user_id, folder, total, unread, as
 * mailbox_counter_deltas gives them), summed per counter and applied in key order, so that two
 * statements touching the same users lock their counters alike.
 */
export const COUNT_COPIES = (deltas: string) => `
        INSERT INTO mailbox_counters AS mc (user_id, folder, total, unread)
        SELECT user_id, folder, sum(total)::int, sum(unread)::int FROM (${deltas}) d
         GROUP BY user_id, folder HAVING sum(total) <> 0 OR sum(unread) <> 0 ORDER BY user_id, folder
        ON CONFLICT (user_id, folder) DO UPDATE SET total = mc.total + excluded.total, unread = mc.unread + excluded.unread`;

/** Where a statement names the message whose new copies it counted itself, for the rest of its transaction. */
export const COUNTED_MESSAGE_SETTING = "mail.counted_message";

/**
 * SQL a statement that counted its new copies of message `messageId` (SQL) evaluates when
 * `counted` (SQL, a boolean) holds, so that the insert trigger of migration 25, which runs at the
 * end of the statement, leaves them out. The setting is local to the transaction, and only the
 * send inserts copies of a new message.
 */
export const COUNTED_BY_STATEMENT = (messageId: string, counted: string) =>
  `CASE WHEN ${counted} AND ${messageId} IS NOT NULL THEN set_config('${COUNTED_MESSAGE_SETTING}', ${messageId}::text, true) END`;

/**
 * The migration from which the copies' insert trigger leaves out the copies a statement counted:
 * the send counts its own only once the schema has reached it (schemaReached, shared/data/migrate.ts),
 * and until then leaves the counting to the trigger it finds.
 */
export const COUNTED_COPIES_MIGRATION = 25;
