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
  type CopyState,
  type UserEvent,
  type UserFrame,
} from "../domain/events";
import { canBeId, type MessageT } from "../domain/schemas";
import { LOCKED_COPY, lockedCopies, receivedOf, type CopyKind } from "./copies";
import { getPool, inTransaction, prepared, type Queryable } from "./db";
import { logEvents } from "./event-log";
import { FROM_COPIES, MESSAGE_COLUMNS, toMessage, type MessageRow } from "./message-view";
import { countUnread, pageJsonSql, pageText, type PageRow, type PageText } from "./messages";

/**
 * The copy a message id names for this user: the received one when they have both (a note to
 * oneself), so the original's read, unread and view keep meaning the recipient's side.
 */
const OWN_COPY = (message: string, user: string) =>
  `c.user_id = ${user} AND c.message_id = ${message} AND c.received = (SELECT bool_or(y.received) FROM message_copies y WHERE y.user_id = ${user} AND y.message_id = ${message})`;

// Named: two fixed texts whose every value is a primary-key lookup, so a generic plan serves them.
const MESSAGE_SQL = `SELECT ${MESSAGE_COLUMNS} ${FROM_COPIES} WHERE ${OWN_COPY("$1", "$2")}`;
const MESSAGE_COPY_SQL = `SELECT ${MESSAGE_COLUMNS} ${FROM_COPIES} WHERE c.user_id = $2 AND c.message_id = $1 AND c.received = $3`;

/** The message as this user's copy shows it (`copy`, else as OWN_COPY); null when they have no such copy. */
export async function getMessage(messageId: number, userId: number, copy?: CopyKind): Promise<MessageT | null> {
  if (!canBeId(messageId)) return null;
  const { rows } = await getPool().query<MessageRow>(
    copy === undefined
      ? prepared("message", MESSAGE_SQL, [messageId, userId])
      : prepared("message", MESSAGE_COPY_SQL, [messageId, userId, copy === "received"]),
  );
  return rows.length ? toMessage(rows[0]) : null;
}

/** The thread (as this user sees it) a reply to this message joins, or null when the user has no copy of it. */
export async function threadOf(messageId: number, userId: number, db: Queryable = getPool()): Promise<number | null> {
  if (!canBeId(messageId)) return null;
  const { rows } = await db.query<{ thread_id: number }>(
    prepared("thread-of", "SELECT thread_id FROM message_copies WHERE user_id = $2 AND message_id = $1 ORDER BY received LIMIT 1", [
      messageId,
      userId,
    ]),
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
export async function readThreadPage(messageId: number, userId: number, page: ThreadPage): Promise<PageText | null> {
  const threadId = await threadOf(messageId, userId);
  if (threadId === null) return null;
  // The user's own copies in the thread, through message_copies_thread_idx; one per message. Two
  // texts, with and without the cursor, so each is a range of that index on a generic plan too
  // (a "$3 IS NULL OR" condition could not bound the index scan without $3's value).
  const after = page.after_id === undefined ? "" : "AND c.message_id > $5::bigint";
  const text = pageJsonSql(
    `${FROM_COPIES}
      WHERE c.user_id = $2 AND c.thread_id = $1 ${after}
        AND (c.received OR NOT EXISTS (SELECT 1 FROM message_copies y WHERE y.user_id = c.user_id AND y.message_id = c.message_id AND y.received))`,
    { key: "c.message_id" },
    { param: "$3", rows: page.limit },
    "$4",
  );
  const values = [threadId, userId, page.limit, page.maxBytes, ...(page.after_id === undefined ? [] : [page.after_id])];
  const { rows } = await getPool().query<PageRow>({ ...prepared("thread", text, values), rowMode: "array" });
  return pageText(rows, page.maxBytes);
}

type ReadState = "read" | "unread";
type ReadStateChange = { kind: "not_found" } | { kind: "unchanged" } | { kind: "changed"; frames: UserFrame[] };
interface Changed {
  senderId: number;
  /** No receipt existed yet for this reader: the sender hears of it (once per reader, ever). */
  firstRead: boolean;
  readAt: Date;
  unreadCount: number;
  state: CopyState;
}

const SET_READ_STATE: Record<ReadState, { set: string; from: string }> = {
  read: { set: "is_read = true, read_at = now()", from: "NOT c.is_read" },
  unread: { set: "is_read = false, read_at = NULL", from: "c.is_read" },
};

/** Moves this user's received copy to `state` and logs `events` of the change; only an actual change is one. */
async function changeReadState(
  messageId: number,
  recipientId: number,
  state: ReadState,
  events: (change: Changed) => UserEvent[],
): Promise<ReadStateChange> {
  if (!canBeId(messageId)) return { kind: "not_found" };
  return inTransaction(async (tx) => {
    const { set, from } = SET_READ_STATE[state];
    // first_read is read before this statement's receipt is written (its trigger runs after).
    const updated = await tx.query<{ sender_id: number; read_at: Date; first_read: boolean } & CopyState>(
      `UPDATE message_copies c SET ${set} WHERE c.user_id = $2 AND c.message_id = $1 AND c.received AND ${from}
       RETURNING sender_id, read_at, folder, is_starred, is_read, NOT EXISTS (SELECT 1 FROM read_receipts rr WHERE rr.message_id = c.message_id AND rr.reader_id = c.user_id) AS first_read`,
      [messageId, recipientId],
    );
    if (updated.rowCount === 0) {
      const exists = await tx.query("SELECT 1 FROM message_copies WHERE user_id = $2 AND message_id = $1 AND received", [
        messageId,
        recipientId,
      ]);
      return exists.rowCount === 0 ? { kind: "not_found" } : { kind: "unchanged" };
    }
    const { sender_id, read_at, folder, is_starred, is_read, first_read } = updated.rows[0];
    const change = {
      senderId: sender_id,
      firstRead: first_read,
      readAt: read_at,
      unreadCount: await countUnread(recipientId, tx),
      state: { folder, is_starred, is_read },
    };
    return { kind: "changed", frames: await logEvents(tx, events(change)) };
  });
}

export type MarkReadOutcome = { kind: "not_found" } | { kind: "already_read" } | { kind: "first_read"; frames: UserFrame[] };

/** Marks a message read by its recipient; only the first read reports a change (and logs its events). */
export async function markRead(messageId: number, recipientId: number): Promise<MarkReadOutcome> {
  const change = await changeReadState(messageId, recipientId, "read", ({ senderId, firstRead, readAt, unreadCount, state }) => [
    { userId: recipientId, event: unreadCountUpdatedEvent(unreadCount) },
    { userId: recipientId, event: messageUpdatedEvent(messageId, state) },
    ...(firstRead ? [{ userId: senderId, event: messageReadEvent(messageId, readAt.toISOString(), recipientId) }] : []),
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
  const change = await changeReadState(messageId, recipientId, "unread", ({ unreadCount, state }) => [
    { userId: recipientId, event: unreadCountUpdatedEvent(unreadCount) },
    { userId: recipientId, event: messageUpdatedEvent(messageId, state) },
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

/** Marks every unread copy in the inbox read, or only those with an id up to `upToId`. */
export async function markAllRead(recipientId: number, upToId?: number): Promise<MarkAllReadResult> {
  return inTransaction(async (tx) => {
    // One statement, so a message sent meanwhile is either marked and reported, or neither.
    // Only first reads are receipts: first_read is read before the statement's trigger writes them.
    const { rows } = await tx.query<{ sender_id: number; ids: number[]; marked: number; read_at: Date }>(
      `WITH ${lockedCopies("user_id = $1 AND folder = 'inbox' AND received AND NOT is_read AND ($2::bigint IS NULL OR message_id <= $2)")},
       changed AS (
         UPDATE message_copies c SET is_read = true, read_at = now() FROM locked l
          WHERE ${LOCKED_COPY} AND c.folder = 'inbox' AND NOT c.is_read
          RETURNING c.message_id, c.sender_id, c.read_at, NOT EXISTS (SELECT 1 FROM read_receipts rr WHERE rr.message_id = c.message_id AND rr.reader_id = c.user_id) AS first_read)
       SELECT sender_id, coalesce(array_agg(message_id ORDER BY message_id) FILTER (WHERE first_read), '{}') AS ids,
              count(*)::int AS marked, max(read_at) AS read_at
         FROM changed GROUP BY sender_id ORDER BY sender_id`,
      [recipientId, upToId ?? null],
    );
    const marked = rows.reduce((n, r) => n + r.marked, 0);
    if (marked === 0) return { marked, frames: [] };
    const readAt = rows[0].read_at.toISOString();
    const events: UserEvent[] = [{ userId: recipientId, event: unreadCountUpdatedEvent(await countUnread(recipientId, tx)) }];
    for (const r of rows) for (const event of messagesReadEvents(r.ids, readAt, recipientId)) events.push({ userId: r.sender_id, event });
    return { marked, frames: await logEvents(tx, events) };
  });
}

/**
 * Erases the messages among `messageIds` that no copy is left of. The caller holds their rows
 * locked (lockMessages) since before it deleted copies, so of two parties deleting the last two
 * copies at once, the second sees the first's delete and erases the message.
 */
export async function eraseOrphans(tx: Queryable, messageIds: readonly number[]): Promise<number> {
  const { rowCount } = await tx.query(
    "DELETE FROM messages m WHERE m.id = ANY($1::int[]) AND NOT EXISTS (SELECT 1 FROM message_copies c WHERE c.message_id = m.id)",
    [messageIds],
  );
  return rowCount ?? 0;
}

/** Locks the messages' rows, in id order, until the transaction ends. */
export async function lockMessages(tx: Queryable, messageIds: readonly number[]): Promise<void> {
  await tx.query("SELECT id FROM messages WHERE id = ANY($1::int[]) ORDER BY id FOR UPDATE", [messageIds]);
}

export type DeleteOutcome = { kind: "not_found" } | { kind: "deleted"; frames: UserFrame[] };

/**
 * Removes this user's copies of a message at once (both of a note to oneself, unless `copy` names
 * one); the message itself goes with its last copy.
 */
export async function deleteMessage(messageId: number, userId: number, copy?: CopyKind): Promise<DeleteOutcome> {
  if (!canBeId(messageId)) return { kind: "not_found" };
  return inTransaction(async (tx) => {
    await lockMessages(tx, [messageId]);
    const { rows } = await tx.query<{ was_unread: boolean }>(
      `WITH ${lockedCopies("user_id = $2 AND message_id = $1 AND ($3::boolean IS NULL OR received = $3)")}
       DELETE FROM message_copies c USING locked l WHERE ${LOCKED_COPY}
        RETURNING (c.received AND NOT c.is_read AND c.folder = 'inbox') AS was_unread`,
      [messageId, userId, receivedOf(copy)],
    );
    if (!rows.length) return { kind: "not_found" };
    await eraseOrphans(tx, [messageId]);
    const events: UserEvent[] = [{ userId, event: messageDeletedEvent(messageId, copy) }];
    if (rows.some((r) => r.was_unread)) events.push({ userId, event: unreadCountUpdatedEvent(await countUnread(userId, tx)) });
    return { kind: "deleted", frames: await logEvents(tx, events) };
  });
}
