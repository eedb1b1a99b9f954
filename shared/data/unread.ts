/**
 * What "unread" means, in one place: a received message not yet read and still in its
 * recipient's mailbox. The counter triggers and partial indexes (migrations.ts) and the mark
 * statements (mailbox.ts) use these, so the stored count, the indexes and the lists agree.
 * Changing one needs a new migration that rebuilds the triggers and indexes of existing databases.
 */
export const IN_RECIPIENT_MAILBOX = "recipient_deleted_at IS NULL";
export const UNREAD = `NOT is_read AND ${IN_RECIPIENT_MAILBOX}`;
