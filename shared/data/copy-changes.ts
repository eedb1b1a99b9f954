/**
 * Changes to a user's own copies: folder, star and read state (PATCH /messages/{id} and
 * POST /messages/bulk), bulk deletion, and the trash sweep. Each runs in one transaction with the
 * events it causes, and the counters follow by their triggers (migration 12).
 */
import {
  messageDeletedEvent,
  messageReadEvent,
  messagesDeletedEvent,
  messagesReadEvents,
  messagesUpdatedEvent,
  messageUpdatedEvent,
  unreadCountUpdatedEvent,
  type CopyState,
  type UserEvent,
  type UserFrame,
} from "../domain/events";
import type { MessageT } from "../domain/schemas";
import {
  COPY_LOCK_ORDER,
  LOCKED_COPY,
  lockedCopies,
  RECEIVED_FOLDERS,
  receivedOf,
  SENT_FOLDERS,
  type CopyKind,
  type Folder,
} from "./copies";
import { getPool, inTransaction, type Queryable } from "./db";
import { logEvents } from "./event-log";
import { eraseOrphans, lockMessages } from "./mailbox";
import { FROM_COPIES, MESSAGE_COLUMNS, toMessage, type MessageRow } from "./message-view";
import { countUnread } from "./messages";

/** What a change sets; absent fields keep their value. */
export type CopyChange = Partial<CopyState>;

interface TargetCopy extends CopyState {
  message_id: number;
  received: boolean;
  sender_id: number;
}

/** Counted in the inbox's unread_count. */
const inInboxUnread = (c: CopyState & { received: boolean }) => c.received && c.folder === "inbox" && !c.is_read;

/**
 * The copy each id names for this user, locked until the transaction ends: `copy` when given, else
 * the received one when they hold both (a note to oneself), as GET /messages/{id} shows.
 */
async function lockTargets(
  tx: Queryable,
  userId: number,
  messageIds: readonly number[],
  copy: CopyKind | undefined,
): Promise<Map<number, TargetCopy>> {
  const { rows } = await tx.query<TargetCopy>(
    `SELECT message_id, received, folder, is_read, is_starred, sender_id FROM message_copies
      WHERE user_id = $1 AND message_id = ANY($2::int[]) AND ($3::boolean IS NULL OR received = $3)
      ORDER BY ${COPY_LOCK_ORDER} FOR UPDATE`,
    [userId, messageIds, receivedOf(copy)],
  );
  const targets = new Map<number, TargetCopy>();
  for (const row of rows) if (!targets.has(row.message_id)) targets.set(row.message_id, row);
  return targets;
}

/** The folders a copy may be in. */
export const foldersOf = (received: boolean): readonly Folder[] => (received ? RECEIVED_FOLDERS : SENT_FOLDERS);

export type ChangeOutcome =
  | { kind: "changed"; updated: number[]; notFound: number[]; frames: UserFrame[]; message?: MessageT }
  /** A copy cannot be in the folder asked for (sent for a received copy, inbox for the sender's). */
  | { kind: "bad_folder"; messageId: number; allowed: readonly Folder[] };

/**
 * Applies `change` to the caller's copies of `messageIds` (distinct) in one transaction. Read state
 * applies to received copies only. One id: message_updated with the copy's state; several: one
 * messages_updated frame listing the ids that changed. A first read sends the sender a receipt
 * (message_read, or one messages_read per sender for several), and a change to the inbox's unread
 * count sends the new count.
 */
export async function changeCopies(
  userId: number,
  messageIds: readonly number[],
  change: CopyChange,
  { single = false, copy }: { single?: boolean; copy?: CopyKind } = {},
): Promise<ChangeOutcome> {
  return inTransaction(async (tx): Promise<ChangeOutcome> => {
    const targets = await lockTargets(tx, userId, messageIds, copy);
    if (change.folder !== undefined)
      for (const copy of targets.values()) {
        const allowed = foldersOf(copy.received);
        if (!allowed.includes(change.folder)) return { kind: "bad_folder", messageId: copy.message_id, allowed };
      }
    const notFound = messageIds.filter((id) => !targets.has(id));
    const list = [...targets.values()];
    // first_read is read before this statement's receipts are written (its trigger runs after).
    const { rows } = await tx.query<CopyState & { message_id: number; read_at: Date | null; first_read: boolean }>(
      `UPDATE message_copies c SET
          folder = coalesce($4, c.folder),
          trashed_at = CASE WHEN coalesce($4, c.folder) = 'trash' THEN coalesce(c.trashed_at, now()) END,
          is_starred = coalesce($5, c.is_starred),
          is_read = CASE WHEN c.received AND $6::boolean IS NOT NULL THEN $6 ELSE c.is_read END,
          read_at = CASE WHEN NOT c.received OR $6::boolean IS NULL THEN c.read_at WHEN $6 THEN coalesce(c.read_at, now()) END
        FROM unnest($2::int[], $3::boolean[]) t(message_id, received)
       WHERE c.user_id = $1 AND c.message_id = t.message_id AND c.received = t.received
       RETURNING c.message_id, c.folder, c.is_starred, c.is_read, c.read_at,
         NOT EXISTS (SELECT 1 FROM read_receipts rr WHERE rr.message_id = c.message_id AND rr.reader_id = c.user_id) AS first_read`,
      [
        userId,
        list.map((c) => c.message_id),
        list.map((c) => c.received),
        change.folder ?? null,
        change.is_starred ?? null,
        change.is_read ?? null,
      ],
    );
    const after = new Map(rows.map((r) => [r.message_id, r]));
    const changed = list.filter((c) => {
      const now = after.get(c.message_id) as CopyState;
      return now.folder !== c.folder || now.is_starred !== c.is_starred || now.is_read !== c.is_read;
    });
    const events: UserEvent[] = [];
    if (changed.length > 0) {
      if (single) {
        const now = after.get(changed[0].message_id) as CopyState;
        events.push({
          userId,
          event: messageUpdatedEvent(
            changed[0].message_id,
            { folder: now.folder, is_starred: now.is_starred, is_read: now.is_read },
            changed[0].received ? "received" : "sent",
          ),
        });
      } else {
        events.push({
          userId,
          event: messagesUpdatedEvent(
            changed.map((c) => c.message_id).sort((a, b) => a - b),
            change,
          ),
        });
      }
      const countMoved = changed.some(
        (c) => inInboxUnread(c) !== inInboxUnread({ ...(after.get(c.message_id) as CopyState), received: c.received }),
      );
      if (countMoved) events.push({ userId, event: unreadCountUpdatedEvent(await countUnread(userId, tx)) });
      events.push(...receipts(userId, changed, after));
    }
    const frames = await logEvents(tx, events);
    const updated = list.map((c) => c.message_id).sort((a, b) => a - b);
    if (!single || updated.length === 0) return { kind: "changed", updated, notFound, frames };
    const { rows: view } = await tx.query<MessageRow>(
      `SELECT ${MESSAGE_COLUMNS} ${FROM_COPIES} WHERE c.user_id = $1 AND c.message_id = $2 AND c.received = $3`,
      [userId, list[0].message_id, list[0].received],
    );
    return { kind: "changed", updated, notFound, frames, message: toMessage(view[0]) };
  });
}

/** The senders' receipts for the copies this change read for the first time. */
function receipts(
  readerId: number,
  changed: TargetCopy[],
  after: Map<number, CopyState & { read_at: Date | null; first_read: boolean }>,
): UserEvent[] {
  const firstReads = changed.filter(
    (c) => c.received && !c.is_read && after.get(c.message_id)?.is_read && after.get(c.message_id)?.first_read,
  );
  if (firstReads.length === 0) return [];
  const readAt = (after.get(firstReads[0].message_id)?.read_at ?? new Date()).toISOString();
  if (firstReads.length === 1) {
    const [c] = firstReads;
    return [{ userId: c.sender_id, event: messageReadEvent(c.message_id, readAt, readerId) }];
  }
  const bySender = new Map<number, number[]>();
  for (const c of firstReads) bySender.set(c.sender_id, [...(bySender.get(c.sender_id) ?? []), c.message_id]);
  return [...bySender].flatMap(([senderId, ids]) =>
    messagesReadEvents(
      ids.sort((a, b) => a - b),
      readAt,
      readerId,
    ).map((event) => ({ userId: senderId, event })),
  );
}

export interface BulkDeleteResult {
  deleted: number[];
  notFound: number[];
  frames: UserFrame[];
}

/**
 * Removes the caller's copies of `messageIds` at once (as DELETE does for one): both of a note to
 * oneself unless `copy` names one; erases messages left without copies.
 */
export async function deleteCopies(userId: number, messageIds: readonly number[], copy?: CopyKind): Promise<BulkDeleteResult> {
  return inTransaction(async (tx) => {
    await lockMessages(tx, messageIds);
    const { rows } = await tx.query<{ message_id: number; was_unread: boolean }>(
      `WITH ${lockedCopies("user_id = $1 AND message_id = ANY($2::int[]) AND ($3::boolean IS NULL OR received = $3)")}
       DELETE FROM message_copies c USING locked l WHERE ${LOCKED_COPY}
        RETURNING c.message_id, (c.received AND NOT c.is_read AND c.folder = 'inbox') AS was_unread`,
      [userId, messageIds, receivedOf(copy)],
    );
    const deleted = [...new Set(rows.map((r) => r.message_id))].sort((a, b) => a - b);
    const notFound = messageIds.filter((id) => !deleted.includes(id));
    if (deleted.length === 0) return { deleted, notFound, frames: [] };
    await eraseOrphans(tx, deleted);
    const events: UserEvent[] = [
      { userId, event: deleted.length === 1 ? messageDeletedEvent(deleted[0], copy) : messagesDeletedEvent(deleted, copy) },
    ];
    if (rows.some((r) => r.was_unread)) events.push({ userId, event: unreadCountUpdatedEvent(await countUnread(userId, tx)) });
    return { deleted, notFound, frames: await logEvents(tx, events) };
  });
}

export const TRASH_SWEEP_BATCH = 500;

/**
 * Erases up to `batch` copies that have been in trash longer than `retentionDays`, as DELETE would
 * (the owner's devices hear messages_deleted); returns how many went and the frames to push.
 * The messages are locked before their copies, in the order DELETE takes them.
 */
export async function sweepTrash(
  retentionDays: number,
  batch = TRASH_SWEEP_BATCH,
  db: Queryable = getPool(),
): Promise<{ erased: number; frames: UserFrame[] }> {
  const { rows: due } = await db.query<{ message_id: number }>(
    `SELECT DISTINCT message_id FROM (SELECT message_id FROM message_copies
      WHERE folder = 'trash' AND trashed_at < now() - make_interval(days => $1) ORDER BY trashed_at LIMIT $2) d`,
    [retentionDays, batch],
  );
  if (due.length === 0) return { erased: 0, frames: [] };
  const ids = due.map((r) => r.message_id);
  return inTransaction(async (tx) => {
    await lockMessages(tx, ids);
    const { rows } = await tx.query<{ user_id: number; message_id: number }>(
      `WITH ${lockedCopies("message_id = ANY($1::int[]) AND folder = 'trash' AND trashed_at < now() - make_interval(days => $2)")}
       DELETE FROM message_copies c USING locked l WHERE ${LOCKED_COPY}
        RETURNING c.user_id, c.message_id`,
      [ids, retentionDays],
    );
    await eraseOrphans(tx, ids);
    const byUser = new Map<number, number[]>();
    for (const r of rows) byUser.set(r.user_id, [...(byUser.get(r.user_id) ?? []), r.message_id]);
    const events: UserEvent[] = [...byUser].map(([userId, messageIds]) => ({
      userId,
      event: messagesDeletedEvent([...new Set(messageIds)].sort((a, b) => a - b)),
    }));
    return { erased: rows.length, frames: await logEvents(tx, events) };
  });
}
