import { newMessageEvent, type UserFrame } from "../domain/events";
import type { MessageT } from "../domain/schemas";
import { getPool, inTransaction, type Queryable } from "./db";
import { isForeignKeyViolation } from "./db-errors";
import { logWithUnreadCount } from "./event-log";
import { claimKey, fingerprint, recordAnswer } from "./idempotency";

export interface MessageRow extends Omit<MessageT, "timestamp"> {
  timestamp: Date;
}

export const toMessage = (row: MessageRow): MessageT => ({ ...row, timestamp: row.timestamp.toISOString() });

// thread_id is stored only on replies: NULL means the message starts its own thread.
export const MESSAGE_COLUMNS = `m.id, m.sender_id, m.recipient_id, m.title, m.body, m."timestamp", m.is_read,
  s.username AS sender_username, r.username AS recipient_username, m.in_reply_to, COALESCE(m.thread_id, m.id) AS thread_id`;

const joinUsers = (source: string) => `FROM ${source} m JOIN users s ON s.id = m.sender_id JOIN users r ON r.id = m.recipient_id`;
export const FROM_MESSAGES = joinUsers("messages");

/** Each side deletes a message from its own mailbox only; `$n` is the user's id. */
export const visibleTo = (n: number) =>
  `((m.sender_id = $${n} AND m.sender_deleted_at IS NULL) OR (m.recipient_id = $${n} AND m.recipient_deleted_at IS NULL))`;

// ids are SERIAL (int4): a larger number can name no row, and must not reach the database as one.
const INT4_MAX = 2_147_483_647;
export const canBeId = (n: number) => Number.isSafeInteger(n) && n >= 1 && n <= INT4_MAX;

export interface Page {
  limit: number;
  before_id?: number;
  /** Stop before the title and body bytes of the rows already taken reach this (see withinBytes). */
  maxBytes?: number;
  /** Words that must all appear in the title or body (case and accents ignored). */
  q?: string;
}

/** A blank q filters nothing. */
const searchWords = (q: string | undefined) => q?.trim() || undefined;
// Served by messages_search_idx: mail_search_query folds q the way the index folded the text.
// A q of punctuation only has no words, so it too keeps everything. The query is planned with
// q's value (an unnamed statement), so the words test folds away and the index condition stays.
const SEARCH = (n: number) =>
  `AND (mail_search_query($${n}) = ''::tsquery OR mail_search_document(m.title, m.body) @@ mail_search_query($${n}))`;

// The columns of MESSAGE_COLUMNS as a subquery names them.
const MESSAGE_FIELDS = `id, sender_id, recipient_id, title, body, "timestamp", is_read, sender_username, recipient_username, in_reply_to, thread_id`;

/**
 * A page query cut short in the database once the title and body bytes of the rows before a row
 * reach `maxBytes`: a running sum over the page's own order (the index order, so no sort), read
 * from the stored lengths without detoasting the text. A message's JSON is never shorter than its
 * text bytes, so every row the answer can hold is kept, plus at most one past it, and a mailbox of
 * huge messages costs the bound, not a thousand of them in memory. `$n` is maxBytes.
 */
export function withinBytes(select: string, order: string, rest: string, n: number): string {
  const size = "octet_length(m.title) + octet_length(m.body)";
  return `SELECT ${MESSAGE_FIELDS} FROM (
      SELECT ${select}, sum(${size}) OVER (ORDER BY ${order} ROWS UNBOUNDED PRECEDING) - (${size}) AS bytes_before
      ${rest}) page
    WHERE bytes_before < $${n}`;
}

/** The query, bounded in bytes when the page asks for it; `$n` is the next free parameter. */
function bounded(page: Page, order: string, rest: string, values: unknown[]): SqlQuery {
  if (page.maxBytes === undefined) return { text: `SELECT ${MESSAGE_COLUMNS} ${rest}`, values };
  return { text: withinBytes(MESSAGE_COLUMNS, order, rest, values.length + 1), values: [...values, page.maxBytes] };
}

/** O(1): the counter the database keeps in step with every change to messages (migration 6). */
export async function countUnread(userId: number, db: Queryable = getPool()): Promise<number> {
  const { rows } = await db.query<{ n: number }>("SELECT unread_count AS n FROM users WHERE id = $1", [userId]);
  return rows[0]?.n ?? 0;
}

export type SendOutcome =
  | { kind: "sent"; message: MessageT; recipientUnreadCount: number; frames: UserFrame[] }
  | { kind: "replayed"; message: MessageT }
  /** The key's message has since been deleted by both parties, and its text erased. */
  | { kind: "replayed_deleted" }
  | { kind: "different_request" }
  | { kind: "recipient_not_found" };

export interface SendOptions {
  /** The request's Idempotency-Key (see shared/data/idempotency.ts). */
  idempotencyKey?: string;
  /**
   * Runs in the send's transaction once the message is stored, with the ids it was stored for:
   * whatever it counts is rolled back with the message if it (or anything after it) throws.
   */
  onStored?: (tx: Queryable, recipientIds: number[]) => Promise<void>;
}

/** The answer a replay gives: the message as first answered (it was unread then), read by id. */
async function replayOf(messageId: number, tx: Queryable): Promise<SendOutcome> {
  const { rows } = await tx.query<MessageRow>(`SELECT ${MESSAGE_COLUMNS} ${FROM_MESSAGES} WHERE m.id = $1`, [messageId]);
  return rows[0] ? { kind: "replayed", message: { ...toMessage(rows[0]), is_read: false } } : { kind: "replayed_deleted" };
}

class RecipientNotFound extends Error {}

export type NewMessage = { recipient_id: number; title: string; body: string; in_reply_to?: number | null; thread_id?: number | null };

const INSERTED = `inserted AS (
     INSERT INTO messages (sender_id, recipient_id, title, body, in_reply_to, thread_id) VALUES ($1, $2, $3, $4, $5, $6)
     RETURNING id, sender_id, recipient_id, title, body, "timestamp", is_read, in_reply_to, thread_id)`;

const insertValues = (senderId: number, input: NewMessage) => [
  senderId,
  input.recipient_id,
  input.title,
  input.body,
  input.in_reply_to ?? null,
  input.thread_id ?? null,
];

/** The bare insert of a send (the throughput benchmark's floor runs it with a separate count, as sends did before the event log). */
export async function insertMessage(tx: Queryable, senderId: number, input: NewMessage): Promise<MessageT> {
  // The foreign key checks (and locks) the recipient, so a missing one costs no extra query.
  const { rows } = await tx.query<MessageRow>(
    `WITH ${INSERTED} SELECT ${MESSAGE_COLUMNS} ${joinUsers("inserted")}`,
    insertValues(senderId, input),
  );
  return toMessage(rows[0]);
}

/** Stores a message, or replays the answer to an earlier request with the same idempotency key. */
export async function sendMessage(
  senderId: number,
  input: NewMessage,
  { idempotencyKey, onStored }: SendOptions = {},
): Promise<SendOutcome> {
  let outcome: SendOutcome;
  try {
    outcome = await inTransaction(async (tx): Promise<SendOutcome> => {
      if (idempotencyKey !== undefined) {
        // What the client asked for; the thread is derived from in_reply_to.
        const { thread_id: _derived, ...asked } = input;
        const claim = await claimKey(tx, senderId, idempotencyKey, fingerprint(asked));
        if (claim.kind === "replayed") return replayOf(claim.messageId, tx);
        if (claim.kind !== "claimed") return claim;
      }
      // Thrown, not returned: the claimed key must roll back with the failed send.
      if (!canBeId(input.recipient_id)) throw new RecipientNotFound();
      const message = await insertMessage(tx, senderId, input);
      await onStored?.(tx, [message.recipient_id]);
      if (idempotencyKey !== undefined) await recordAnswer(tx, senderId, idempotencyKey, message.id);
      const logged = await logWithUnreadCount(tx, message.recipient_id, (unreadCount) => newMessageEvent(message, unreadCount));
      return { kind: "sent", message, recipientUnreadCount: logged.unreadCount, frames: [logged.frame] };
    });
  } catch (error) {
    if (error instanceof RecipientNotFound || isForeignKeyViolation(error, "messages_recipient_id_fkey"))
      return { kind: "recipient_not_found" };
    throw error;
  }
  return outcome;
}

export interface SqlQuery {
  text: string;
  values: unknown[];
}

/**
 * Newest first; keyset pagination on id so deep pages cost the same as the first.
 *
 * The lists are ordered (and paged) by id::bigint, the key of the mailbox indexes of migration 7,
 * because no other index provides that order. Ordered by plain id, the planner may walk the
 * primary key backwards and filter by user: it assumes each user's mail is spread evenly over the
 * ids, so after many recent messages to others it reads all of them to find one page of older mail
 * (test/api/list-plans.test.ts). The order is the same: int4 ids widen to int8 without changing it.
 */
export function inboxQuery(userId: number, page: Page & { unread?: boolean }): SqlQuery {
  const q = searchWords(page.q);
  return bounded(
    page,
    "m.id::bigint DESC",
    `${FROM_MESSAGES}
      WHERE m.recipient_id = $1 AND m.recipient_deleted_at IS NULL
        AND ($2::bigint IS NULL OR m.id::bigint < $2) AND ($3::boolean IS NULL OR m.is_read = NOT $3) ${q ? SEARCH(5) : ""}
      ORDER BY m.id::bigint DESC LIMIT $4`,
    [userId, page.before_id ?? null, page.unread ?? null, page.limit, ...(q ? [q] : [])],
  );
}

/** As inboxQuery, for the messages the user sent. */
export function outboxQuery(userId: number, page: Page): SqlQuery {
  const q = searchWords(page.q);
  return bounded(
    page,
    "m.id::bigint DESC",
    `${FROM_MESSAGES}
      WHERE m.sender_id = $1 AND m.sender_deleted_at IS NULL AND ($2::bigint IS NULL OR m.id::bigint < $2) ${q ? SEARCH(4) : ""}
      ORDER BY m.id::bigint DESC LIMIT $3`,
    [userId, page.before_id ?? null, page.limit, ...(q ? [q] : [])],
  );
}

export async function listInbox(userId: number, page: Page & { unread?: boolean }): Promise<MessageT[]> {
  const { rows } = await getPool().query<MessageRow>(inboxQuery(userId, page));
  return rows.map(toMessage);
}

export async function listOutbox(userId: number, page: Page): Promise<MessageT[]> {
  const { rows } = await getPool().query<MessageRow>(outboxQuery(userId, page));
  return rows.map(toMessage);
}
