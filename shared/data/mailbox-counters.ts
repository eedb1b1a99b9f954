/**
 * How mailbox_counters (each user's total and unread per folder, and starred) follow the copies:
 * the copies' triggers (migrations 12 and 25) add each statement's deltas, and a statement that
 * inserts copies may add them itself and say so, as the send does (shared/data/messages.ts).
 */
import type { Queryable } from "./db";

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

/** The migration from which the copies' insert trigger leaves out the copies a statement counted. */
export const COUNTED_COPIES_MIGRATION = 25;

const RECHECK_MS = 5_000;
let triggerLeavesCounted = false;
let checkedAt = -Infinity;

/**
 * Whether a send may count its own copies: only once the trigger that would count them again has
 * been replaced (COUNTED_COPIES_MIGRATION). An instance of this code can serve before its
 * migrations have all run (a long index build ahead of it, another instance holding the lock);
 * until then the send locks its counters and leaves the counting to the trigger, as before. Asked
 * again every few seconds until it holds, then never.
 */
export async function sendCountsOwnCopies(db: Queryable): Promise<boolean> {
  if (triggerLeavesCounted || Date.now() - checkedAt < RECHECK_MS) return triggerLeavesCounted;
  checkedAt = Date.now();
  const { rows } = await db.query<{ applied: boolean }>("SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1) AS applied", [
    COUNTED_COPIES_MIGRATION,
  ]);
  triggerLeavesCounted = rows[0].applied;
  return triggerLeavesCounted;
}

/** Forgets what sendCountsOwnCopies learnt (a test that takes the database back to an earlier schema). */
export function forgetCountedCopiesCheck(): void {
  triggerLeavesCounted = false;
  checkedAt = -Infinity;
}
