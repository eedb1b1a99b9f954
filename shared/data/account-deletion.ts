/**
 * Deleting an account (docs/mail-model.md): the users row stays as a tombstone (deleted_at), so its
 * name is never given to anyone else and what it sent still names its sender ("deleted user" in
 * every view); everything that is only the account's own goes, in one transaction.
 */
import { LOCKED_COPY, lockedCopies } from "./copies";
import { inTransaction } from "./db";
import { eraseOrphans, lockMessages } from "./mailbox";

/** No bcrypt hash looks like this, so no password matches it (logins skip tombstones anyway). */
const NO_PASSWORD = "!deleted";

export interface DeletedAccount {
  /** The sessions ended (their sockets are to be closed). */
  sessions: string[];
  /** Messages erased because no copy of them was left. */
  erased: number;
}

/** Deletes the account; null when it was already gone (another request deleted it first). */
export async function deleteAccount(userId: number): Promise<DeletedAccount | null> {
  return inTransaction(async (tx) => {
    const tombstoned = await tx.query("UPDATE users SET deleted_at = now(), hashed_password = $2 WHERE id = $1 AND deleted_at IS NULL", [
      userId,
      NO_PASSWORD,
    ]);
    if (!tombstoned.rowCount) return null;
    // Its copies leave every folder; a message nobody else holds goes with them (rows locked
    // first, so a recipient deleting their last copy at the same time cannot leave one behind).
    const { rows } = await tx.query<{ message_id: number }>("SELECT DISTINCT message_id FROM message_copies WHERE user_id = $1", [userId]);
    const messageIds = rows.map((r) => r.message_id);
    await lockMessages(tx, messageIds);
    await tx.query(`WITH ${lockedCopies("user_id = $1")} DELETE FROM message_copies c USING locked l WHERE ${LOCKED_COPY}`, [userId]);
    const erased = await eraseOrphans(tx, messageIds);
    const sessions = await tx.query<{ id: string }>("DELETE FROM sessions WHERE user_id = $1 RETURNING id", [userId]);
    // Its own records: events, sockets, idempotency keys, uploads never attached (their blobs are
    // queued for deletion by the attachments trigger). Files it attached stay with their messages.
    await tx.query("DELETE FROM user_events WHERE user_id = $1", [userId]);
    await tx.query("DELETE FROM user_event_counters WHERE user_id = $1", [userId]);
    await tx.query("DELETE FROM socket_connections WHERE user_id = $1", [userId]);
    await tx.query("DELETE FROM idempotency_keys WHERE sender_id = $1", [userId]);
    await tx.query("DELETE FROM attachments WHERE owner_id = $1 AND message_id IS NULL", [userId]);
    return { sessions: sessions.rows.map((r) => r.id), erased };
  });
}
