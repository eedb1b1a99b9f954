/**
 * What "unread" meant in the old shape (one recipient per message row): a received message not
 * yet read and still in its recipient's mailbox. Migrations 1-7 built their triggers and partial
 * indexes from these; they are frozen with them. Copies define their own (shared/data/copies.ts).
 */
export const IN_RECIPIENT_MAILBOX = "recipient_deleted_at IS NULL";
export const UNREAD = `NOT is_read AND ${IN_RECIPIENT_MAILBOX}`;
