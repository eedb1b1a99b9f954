/**
 * The mailbox operations beyond send and list: open one message, mark read or unread, mark all read,
 * delete from one side, and threads. Every unread count is read inside the same transaction
 * as the change it reflects.
 */
import {
  messageDeletedEvent,
  messageReadEvent,
  messagesReadEvents,
  messageUpdatedEvent,
  unreadCountUpdatedEvent,
  type UserEvent,
  type UserFrame,
} from "../domain/events";
import type { MessageT } from "../domain/schemas";
import { getPool, inTransaction, type Queryable } from "./db";
import { logEvents } from "./event-log";
import { canBeId, countUnread, FROM_MESSAGES, MESSAGE_COLUMNS, toMessage, visibleTo, withinBytes, type MessageRow } from "./messages";
import { IN_RECIPIENT_MAILBOX, UNREAD } from "./unread";

/** The message when this user sent or received it and has not deleted it. */
export async function getMessage(messageId: number, userId: number): Promise<MessageT | null> {
  if (!canBeId(messageId)) return null;
  const { rows } = await getPool().query<MessageRow>(`SELECT ${MESSAGE_COLUMNS} ${FROM_MESSAGES} WHERE m.id = $1 AND ${visibleTo(2)}`, [
    messageId,
    userId,
  ]);
  return rows.length ? toMessage(rows[0]) : null;
}

/** The thread a reply to this message joins, or null when the user cannot see the message. */
export async function threadOf(messageId: number, userId: number, db: Queryable = getPool()): Promise<number | null> {
  if (!canBeId(messageId)) return null;
  const { rows } = await db.query<{ thread_id: number }>(
    `SELECT COALESCE(m.thread_id, m.id) AS thread_id FROM messages m WHERE m.id = $1 AND ${visibleTo(2)}`,
    [messageId, userId],
  );
  return rows.length ? rows[0].thread_id : null;
}

export interface ThreadPage {
  limit: number;
  /** Cursor: only messages after this one (the last id of the previous page). */
  after_id?: number;
  /** As Page.maxBytes (shared/data/messages.ts). */
  maxBytes: number;
}

/**
 * A page of the thread's messages this user can see, oldest first; null when the message itself
 * is not one of them.
 */
export async function listThread(messageId: number, userId: number, page: ThreadPage): Promise<MessageT[] | null> {
  const threadId = await threadOf(messageId, userId);
  if (threadId === null) return null;
  // The root carries no thread_id (it is its own); replies are found through messages_thread_idx.
  const { rows } = await getPool().query<MessageRow>(
    withinBytes(
      MESSAGE_COLUMNS,
      "m.id",
      `${FROM_MESSAGES}
      WHERE (m.id = $1 OR m.thread_id = $1) AND ${visibleTo(2)} AND ($3::bigint IS NULL OR m.id > $3)
      ORDER BY m.id LIMIT $4`,
      5,
    ),
    [threadId, userId, page.after_id ?? null, page.limit, page.maxBytes],
  );
  return rows.map(toMessage);
}

type ReadState = "read" | "unread";
type ReadStateChange = { kind: "not_found" } | { kind: "unchanged" } | { kind: "changed"; frames: UserFrame[] };
interface Changed {
  senderId: number;
  readAt: Date;
  unreadCount: number;
}

const SET_READ_STATE: Record<ReadState, { set: string; from: string }> = {
  read: { set: "is_read = true, read_at = now()", from: UNREAD },
  unread: { set: "is_read = false, read_at = NULL", from: `is_read AND ${IN_RECIPIENT_MAILBOX}` },
};

/** Moves a received message to `state` and logs `events` of the change; only an actual change is one. */
async function changeReadState(
  messageId: number,
  recipientId: number,
  state: ReadState,
  events: (change: Changed) => UserEvent[],
): Promise<ReadStateChange> {
  if (!canBeId(messageId)) return { kind: "not_found" };
  return inTransaction(async (tx) => {
    const { set, from } = SET_READ_STATE[state];
    const updated = await tx.query<{ sender_id: number; read_at: Date }>(
      `UPDATE messages SET ${set} WHERE id = $1 AND recipient_id = $2 AND ${from} RETURNING sender_id, read_at`,
      [messageId, recipientId],
    );
    if (updated.rowCount === 0) {
      const exists = await tx.query(`SELECT 1 FROM messages WHERE id = $1 AND recipient_id = $2 AND ${IN_RECIPIENT_MAILBOX}`, [
        messageId,
        recipientId,
      ]);
      return exists.rowCount === 0 ? { kind: "not_found" } : { kind: "unchanged" };
    }
    const { sender_id, read_at } = updated.rows[0];
    const change = { senderId: sender_id, readAt: read_at, unreadCount: await countUnread(recipientId, tx) };
    return { kind: "changed", frames: await logEvents(tx, events(change)) };
  });
}

export type MarkReadOutcome = { kind: "not_found" } | { kind: "already_read" } | { kind: "first_read"; frames: UserFrame[] };

/** Marks a message read by its recipient; only the first read reports a change (and logs its events). */
export async function markRead(messageId: number, recipientId: number): Promise<MarkReadOutcome> {
  const change = await changeReadState(messageId, recipientId, "read", ({ senderId, readAt, unreadCount }) => [
    { userId: recipientId, event: unreadCountUpdatedEvent(unreadCount) },
    { userId: recipientId, event: messageUpdatedEvent(messageId, true) },
    { userId: senderId, event: messageReadEvent(messageId, readAt.toISOString()) },
  ]);
  return change.kind === "changed"
    ? { kind: "first_read", frames: change.frames }
    : change.kind === "unchanged"
      ? { kind: "already_read" }
      : change;
}

export type MarkUnreadOutcome = { kind: "not_found" } | { kind: "already_unread" } | { kind: "marked_unread"; frames: UserFrame[] };

/** Marks a received message unread again; only an actual change reports one. */
export async function markUnread(messageId: number, recipientId: number): Promise<MarkUnreadOutcome> {
  const change = await changeReadState(messageId, recipientId, "unread", ({ unreadCount }) => [
    { userId: recipientId, event: unreadCountUpdatedEvent(unreadCount) },
    { userId: recipientId, event: messageUpdatedEvent(messageId, false) },
  ]);
  return change.kind === "changed"
    ? { kind: "marked_unread", frames: change.frames }
    : change.kind === "unchanged"
      ? { kind: "already_unread" }
      : change;
}

export interface MarkAllReadResult {
  marked: number;
  /** The recipient's new count, and one frame per sender naming the ids read (in id order). */
  frames: UserFrame[];
}

/** Marks every unread received message read, or only those with an id up to `upToId`. */
export async function markAllRead(recipientId: number, upToId?: number): Promise<MarkAllReadResult> {
  return inTransaction(async (tx) => {
    // One statement, so a message sent meanwhile is either marked and reported, or neither.
    const { rows } = await tx.query<{ sender_id: number; ids: number[]; read_at: Date }>(
      `WITH changed AS (
         UPDATE messages SET is_read = true, read_at = now()
          WHERE recipient_id = $1 AND ${UNREAD} AND ($2::bigint IS NULL OR id <= $2)
          RETURNING id, sender_id, read_at)
       SELECT sender_id, array_agg(id ORDER BY id) AS ids, max(read_at) AS read_at FROM changed GROUP BY sender_id ORDER BY sender_id`,
      [recipientId, upToId ?? null],
    );
    const marked = rows.reduce((n, r) => n + r.ids.length, 0);
    if (marked === 0) return { marked, frames: [] };
    const readAt = rows[0].read_at.toISOString();
    const events: UserEvent[] = [{ userId: recipientId, event: unreadCountUpdatedEvent(await countUnread(recipientId, tx)) }];
    for (const r of rows) for (const event of messagesReadEvents(r.ids, readAt)) events.push({ userId: r.sender_id, event });
    return { marked, frames: await logEvents(tx, events) };
  });
}

export type DeleteOutcome = { kind: "not_found" } | { kind: "deleted"; frames: UserFrame[] };

/**
 * Removes a message from this user's mailbox only; the row itself goes once both sides have
 * deleted it. Two sides deleting at once serialise on the row lock, so exactly one removes it.
 */
export async function deleteMessage(messageId: number, userId: number): Promise<DeleteOutcome> {
  if (!canBeId(messageId)) return { kind: "not_found" };
  return inTransaction(async (tx) => {
    const { rows } = await tx.query<{ was_unread: boolean; both_deleted: boolean }>(
      `UPDATE messages m SET
          sender_deleted_at = CASE WHEN m.sender_id = $2 THEN COALESCE(m.sender_deleted_at, now()) ELSE m.sender_deleted_at END,
          recipient_deleted_at = CASE WHEN m.recipient_id = $2 THEN COALESCE(m.recipient_deleted_at, now()) ELSE m.recipient_deleted_at END
        WHERE m.id = $1 AND ${visibleTo(2)}
        RETURNING (m.recipient_id = $2 AND NOT m.is_read) AS was_unread,
                  (m.sender_deleted_at IS NOT NULL AND m.recipient_deleted_at IS NOT NULL) AS both_deleted`,
      [messageId, userId],
    );
    if (!rows.length) return { kind: "not_found" };
    if (rows[0].both_deleted) await tx.query("DELETE FROM messages WHERE id = $1", [messageId]);
    const events: UserEvent[] = [{ userId, event: messageDeletedEvent(messageId) }];
    if (rows[0].was_unread) events.push({ userId, event: unreadCountUpdatedEvent(await countUnread(userId, tx)) });
    return { kind: "deleted", frames: await logEvents(tx, events) };
  });
}
