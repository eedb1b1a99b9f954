/**
 * Sending and listing. A message is stored once (messages) with its addressing, and each party
 * gets a copy (message_copies, shared/data/copies.ts) holding its folder and flags; the lists read
 * one user's copies through one index each. docs/mail-model.md tells the model.
 */
import { newMessageEvent, toFrame, type UserFrame } from "../domain/events";
import { canBeId, type MessageT } from "../domain/schemas";
import { ADDRESSEE_KEY_SQL, ADDRESSEE_KEYS_SQL, type Folder } from "./copies";
import { getPool, inTransaction, statementName, type Queryable } from "./db";
import { hasSqlState } from "./db-errors";
import { fillPending, logEachCtes, pendingEvent, sourceRowOf } from "./event-log";
import { claimKey, fingerprint, recordAnswer } from "./idempotency";
import { COUNTED_BY_STATEMENT, COUNTED_COPIES_MIGRATION } from "./mailbox-counters";
import {
  AS_SENT,
  FROM_COPIES,
  fromCopies,
  ISO,
  MESSAGE_COLUMNS,
  MESSAGE_FIELD_NAMES,
  MESSAGE_FIELDS,
  messageJsonSql,
  toMessage,
  type MessageRow,
} from "./message-view";
import { schemaKnownReached, schemaReached } from "./migrate";
import {
  budgetSpend,
  senderBudgetCtes,
  senderRefusedUntilSql,
  senderSpendSql,
  senderSpendValues,
  type SenderBudget,
} from "./rate-limit-counter";
import { defineUserRider, userRowsRide, type Ride, type StatementRide } from "./users";

export { FROM_COPIES, MESSAGE_COLUMNS, toMessage, type MessageRow } from "./message-view";

export interface Page {
  limit: number;
  before_id?: number;
  /** Stop before the title and body bytes of the rows already taken reach this (see pageSql). */
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
  `(mail_search_query($${n}) = ''::tsquery OR mail_search_document(m.title, m.body) @@ mail_search_query($${n}))`;

/** The order a page's rows come in: an index's order (so no sort), ascending or descending. */
export interface PageOrder {
  key: string;
  descending?: boolean;
}

/**
 * The rows a page's plan is made for: its size rounded up to a power of ten, written into the
 * statement. A generic plan (made once for a named statement, without the parameters' values)
 * takes a parameter LIMIT for a tenth of the rows under it: over a user's whole mailbox that made
 * a page of a large mailbox look dearer than planning it with its values, and PostgreSQL planned
 * every page again (about as long as running it). Under this bound a tenth is at most the page
 * size, so the generic plan never looks dearer than a custom one, whatever the mailbox holds.
 */
function plannedPageRows(limit: number): number {
  let rows = 1;
  while (rows < limit) rows *= 10;
  return rows;
}

/**
 * A page of messages: the rows of `from` (FROM ... WHERE ...) in `order`, at most `limit` ($n and
 * its value), each as MESSAGE_COLUMNS. With `maxBytes` ($n), cut short in the database once the
 * title and body bytes of the rows before a row reach it: a running sum over the page's own order,
 * read from the stored lengths without detoasting the text. A message's JSON is never shorter than
 * its text bytes, so every row the answer can hold is kept, plus at most one past it, and a mailbox
 * of huge messages costs the bound, not a thousand of them in memory. The rows are read under a
 * constant LIMIT (plannedPageRows) and cut to the page size above it, before the byte bound: the
 * executor stops reading at the page size either way.
 */
export function pageSql(from: string, order: PageOrder, limit: { param: string; rows: number }, maxBytes?: string): string {
  const rows = pageRows(from, order, limit);
  if (maxBytes === undefined) return `SELECT ${MESSAGE_FIELDS} FROM (${rows}) v LIMIT ${limit.param}`;
  return `SELECT ${MESSAGE_FIELDS} FROM (${withinBytes(rows, order, limit.param)}) page WHERE ${WITHIN_BOUND(maxBytes)}`;
}

const pageRows = (from: string, order: PageOrder, limit: { rows: number }) =>
  `SELECT ${MESSAGE_COLUMNS}, ${order.key} AS page_key, octet_length(m.title) + octet_length(m.body) AS page_size
      ${from} ORDER BY ${order.key}${order.descending ? " DESC" : ""} LIMIT ${plannedPageRows(limit.rows)}`;

// The rows of a page, numbered, each with the title and body bytes of the rows before it, and
// `column` when given (which may read the window w).
const withinBytes = (rows: string, order: PageOrder, limit: string, column?: string) =>
  `SELECT v.*, row_number() OVER w AS page_n, sum(v.page_size) OVER w - v.page_size AS bytes_before${column ? `, ${column}` : ""}
        FROM (${rows}) v WINDOW w AS (ORDER BY v.page_key${order.descending ? " DESC" : ""} ROWS UNBOUNDED PRECEDING) LIMIT ${limit}`;

/**
 * The rows a page bounded in bytes reads: those before which the title and body bytes stay under
 * the bound, so every one the answer can hold and one past it, whose cut says the page goes on.
 * The second always: when the first alone passes the bound, it is that one.
 */
const WITHIN_BOUND = (maxBytes: string) => `(bytes_before < ${maxBytes} OR page_n = 2)`;

/**
 * A row of a page read by pageJsonSql, as the array of its columns: the message's id, its JSON as
 * the database wrote it (null when it did not), then, for a message it did not write, its other
 * fields in the view's order (null when it did).
 */
export type PageRow = [id: number, json: string | null, ...fields: unknown[]];

/** A page's answer: the JSON array of its messages, and each one's id and JSON bytes, in order (pageText). */
export interface PageText {
  body: string;
  ids: number[];
  sizes: number[];
}

/** The most bytes JSON writes for one byte of text: a control character becomes \u0001. */
const JSON_BYTES_PER_TEXT_BYTE = 6;

/** The fields after the id, in the view's order: a PageRow's columns from its third. */
const FIELDS_AFTER_ID = MESSAGE_FIELD_NAMES.filter((name) => name !== "id");

/**
 * pageSql's page (bounded in bytes), each message written by the database as its JSON
 * (messageJsonSql), the same text JSON.stringify makes of its row. The app joins those texts into the
 * answer as they come: a message costs it one string, where a row cost a string for each field,
 * an object, and the JSON made again from them.
 *
 * The database writes a message only while the title and body bytes of the page through it, six
 * times over, stay within the bound: so never much more JSON than the answer can hold, and never
 * its slow escapes over a mailbox of messages made of control characters. The messages after that
 * come as their fields, in the same statement, and the app writes them (pageText), as it wrote
 * every page before.
 */
export function pageJsonSql(from: string, order: PageOrder, limit: { param: string; rows: number }, maxBytes: string): string {
  // Whether the database writes the row, decided once a row (the window's running sum through it).
  const written = `sum(v.page_size) OVER w * ${JSON_BYTES_PER_TEXT_BYTE} <= ${maxBytes} AS page_written`;
  const fields = FIELDS_AFTER_ID.map((name) => `CASE WHEN p.page_written THEN NULL ELSE p."${name}" END AS "${name}"`).join(", ");
  return `SELECT p.id, CASE WHEN p.page_written THEN ${messageJsonSql("p")} END AS page_json, ${fields}
    FROM (${withinBytes(pageRows(from, order, limit), order, limit.param, written)}) p
   WHERE ${WITHIN_BOUND(maxBytes)}`;
}

/**
 * A page's answer from its rows (pageJsonSql): each message's JSON as the database wrote it, or
 * as JSON.stringify writes its fields; these only up to the message that passes `maxBytes` after
 * the first, as the caller's cut (boundedWrittenPage) needs no more.
 */
export function pageText(rows: readonly PageRow[], maxBytes: number): PageText {
  const [texts, ids, sizes]: [string[], number[], number[]] = [[], [], []];
  let bytes = 1; // as boundedWrittenPage counts: the brackets, each message and a comma between each two
  for (const row of rows) {
    const text = row[1] ?? JSON.stringify(messageOf(row));
    texts.push(text);
    ids.push(row[0]);
    sizes.push(Buffer.byteLength(text));
    bytes += sizes[sizes.length - 1] + 1;
    if (row[1] === null && texts.length > 1 && bytes > maxBytes) break;
  }
  return { body: `[${texts.join(",")}]`, ids, sizes };
}

/** The message object of a row the database did not write, its fields in the view's order. */
function messageOf(row: PageRow): Record<string, unknown> {
  const message: Record<string, unknown> = { id: row[0] };
  FIELDS_AFTER_ID.forEach((name, i) => (message[name] = row[i + 2]));
  return message;
}

// Both counter reads are named: primary-key lookups, planned once per connection.
const UNREAD_COUNT_SQL = {
  name: "unread-count",
  text: "SELECT unread AS n FROM mailbox_counters WHERE user_id = $1 AND folder = 'inbox'",
} as const;
const COUNTERS_SQL = { name: "mailbox-counters", text: "SELECT folder, total, unread FROM mailbox_counters WHERE user_id = $1" } as const;

/** O(1): the inbox's unread counter, kept in the transaction of every change to copies (migration 12). */
export async function countUnread(userId: number, db: Queryable = getPool()): Promise<number> {
  const { rows } = await db.query<{ n: number }>({ ...UNREAD_COUNT_SQL, values: [userId] });
  return rows[0]?.n ?? 0;
}

export interface MailboxCounts {
  inbox: { total: number; unread: number };
  archive: { total: number; unread: number };
  trash: { total: number; unread: number };
  sent: { total: number };
  starred: { total: number; unread: number };
}

/** Every counter of the user's mailbox: one primary-key range read, no scan of copies. */
export async function mailboxCounts(userId: number, db: Queryable = getPool()): Promise<MailboxCounts> {
  const { rows } = await db.query<CounterRow>({ ...COUNTERS_SQL, values: [userId] });
  return countsFromRows(rows);
}

export interface CounterRow {
  folder: string;
  total: number;
  unread: number;
}

/** The answer's shape from one row per counter (folder, or 'starred'); a counter without a row is zero. */
export function countsFromRows(rows: readonly CounterRow[]): MailboxCounts {
  const of = (folder: string) => rows.find((r) => r.folder === folder) ?? { total: 0, unread: 0 };
  const pair = (folder: string) => ({ total: of(folder).total, unread: of(folder).unread });
  return {
    inbox: pair("inbox"),
    archive: pair("archive"),
    trash: pair("trash"),
    sent: { total: of("sent").total },
    starred: pair("starred"),
  };
}

export type SendOutcome =
  | { kind: "sent"; message: MessageT; recipientUnreadCount: number; frames: UserFrame[] }
  | { kind: "replayed"; message: MessageT }
  /** The key's message has since been deleted by every party, and its text erased. */
  | { kind: "replayed_deleted" }
  | { kind: "different_request" }
  | { kind: "recipient_not_found" }
  /** The sender's budgets (SendOptions.senderBudget) refused the send; `expire` (ms) is when the refusing one restarts. Nothing stored or spent. */
  | { kind: "sender_budget_spent"; expire: number }
  /** A recipient's budget is spent; `expire` (ms) is when the latest of those refusing restarts. Nothing stored. */
  | { kind: "recipient_budget_spent"; expire: number };

/** Each recipient's budget (rate_limits keys, one per recipient in order), spent by the send's statement. */
export interface RecipientBudget {
  keys: string[];
  /** Points a key may hold; past it the send is refused and rolled back. */
  limit: number;
  windowMs: number;
  now: number;
}

export interface SendOptions {
  /** The request's Idempotency-Key (see shared/data/idempotency.ts). */
  idempotencyKey?: string;
  /** Spent one point a recipient by a stored message only; none when absent. */
  recipientBudget?: RecipientBudget;
  /**
   * The sender's budgets, spent by the send's statement, last: when either is spent the statement
   * fails and stores nothing ("sender_budget_spent"), its spend rolled back with it. Only for the
   * one-statement send (no key, no `onStored`): a send with work before its statement spends them
   * first (shared/auth/send-limits.ts).
   */
  senderBudget?: SenderBudget;
  /**
   * Runs in the send's transaction once the message is stored: whatever it writes is rolled back
   * with the message if it (or anything after it) throws. A send without it (and without a key) is
   * one statement and no transaction around it.
   */
  onStored?: (tx: Queryable, messageId: number) => Promise<void>;
  /** What the client asked for, for the idempotency fingerprint (default: the input without thread_id). */
  asked?: Readonly<Record<string, unknown>>;
}

/** The answer a replay gives: the message as first answered (unread then), read by id; gone once erased. */
async function replayOf(messageId: number, tx: Queryable): Promise<SendOutcome> {
  const { rows } = await tx.query<MessageRow>(`SELECT ${MESSAGE_COLUMNS} ${fromCopies(AS_SENT)}`, [messageId]);
  return rows[0] ? { kind: "replayed", message: { ...toMessage(rows[0]), is_read: false, read_by: [] } } : { kind: "replayed_deleted" };
}

class RecipientNotFound extends Error {}

/** A message to store: its addressing (each list without repeats, see `addressing`) and text. */
export type NewMessage = {
  /** The original's one recipient: the same as `to: [recipient_id]`. */
  recipient_id?: number;
  to?: number[];
  cc?: number[];
  bcc?: number[];
  title: string;
  body: string;
  in_reply_to?: number | null;
  /** The sender's thread for a reply (threadOf in_reply_to), stored on the message. */
  thread_id?: number | null;
};

/**
 * The addressing as stored: each id once, in the first list that names it (to, then cc, then
 * bcc), in the order given; and the distinct recipients.
 */
export function addressing(to: readonly number[], cc: readonly number[] = [], bcc: readonly number[] = []) {
  const seen = new Set<number>();
  const keep = (ids: readonly number[]) => ids.filter((id) => !seen.has(id) && (seen.add(id), true));
  const lists = { to: keep(to), cc: keep(cc), bcc: keep(bcc) };
  return { ...lists, recipients: [...lists.to, ...lists.cc, ...lists.bcc] };
}

/** The SQLSTATE the send's statement fails with when a recipient's budget is spent (its message: the expire in ms). */
const RECIPIENT_BUDGET_SPENT = "ML429";

/** The SQLSTATE the send's statement fails with when the sender's budget is spent (its message: the expire in ms). */
const SENDER_BUDGET_SPENT = "ML430";

// The sender's budget values among SEND_MESSAGE's parameters: senderSpendValues from $15.
const SENDER = senderSpendSql(15);

// Whether the send adds its copies to the counters itself (once the schema has reached COUNTED_COPIES_MIGRATION), after the sender's budget values.
const COUNTS_OWN = "$23::boolean";

// What the events of a send read of each recipient's row of `inboxes`, besides its user_id.
const INBOX_COLUMNS = ["unread_count"] as const;

// The whole send in one statement, so the rows it locks (each recipient's budget, its counters and
// event counter) are held for one statement and its commit, never across round trips; every step
// after the message's insert is conditional on it (an unknown recipient stores and spends nothing).
// In order: check (and share-lock) every recipient; store the message once and one copy per party
// (a party's thread and in_reply_to come from its own copy of the message replied to, so a party
// added later starts a thread of its own and never learns the ids before it; a recipient sees to
// and cc and, when blind-copied, itself; the sender sees every list); spend each recipient's budget
// (key order); add the copies to their counters, in key order, reading each inbox's unread count
// with this message in it (the copies' trigger leaves them out: COUNTED_BY_STATEMENT, migration
// 25; before that migration has run, lock them only and leave the counting to the trigger); log
// each recipient's new_message with its count; last, spend the sender's budgets when
// given (a send to nobody spends them too), so that a sender's own sends queue on its budget rows
// only from there to the commit. A spent budget, a recipient's or the sender's, fails the statement
// (mail_refuse, migration 15), which takes everything with it, the sender's spend too. Riding on
// the lookup that authenticates the request (`signedIn`, the CTE `u`), the sender's budgets, the
// recipients' locks and the message are written only when it found the user, and every other
// write follows from the message.
const sendCtes = (signedIn: boolean) => {
  const gate = signedIn ? " AND EXISTS (SELECT 1 FROM u)" : "";
  return `
  ${senderBudgetCtes(signedIn ? { ...SENDER, burstKey: `(SELECT ${SENDER.burstKey} FROM u)` } : SENDER)}, found AS (
    SELECT f.id, f.username FROM users f WHERE f.id = ANY($8::int[]) AND f.deleted_at IS NULL${gate} ORDER BY f.id FOR SHARE
  ), msg AS (
    INSERT INTO messages (sender_id, recipient_id, title, body, in_reply_to, thread_id, to_ids, cc_ids, bcc_ids)
    SELECT $1, ($5::int[])[1], $2, $3, $4, $9, $5, $6, $7 WHERE (SELECT count(*) FROM found) = cardinality($8::int[])${gate}
    RETURNING id, "timestamp", ${ISO('"timestamp"')} AS sent_at
  ), sender AS (
    SELECT username FROM users WHERE id = $1
  ), parties AS (
    SELECT $1::int AS user_id, false AS received UNION ALL SELECT r, true FROM unnest($8::int[]) r
  ), copies AS (
    INSERT INTO message_copies (user_id, message_id, received, folder, is_read, sender_id, "timestamp", thread_id, in_reply_to, addressee_keys)
    SELECT p.user_id, msg.id, p.received, CASE WHEN p.received THEN 'inbox' ELSE 'sent' END, NOT p.received, $1, msg."timestamp",
           coalesce(parent.thread_id, msg.id), parent.message_id,
           ${ADDRESSEE_KEYS_SQL(
             "p.user_id",
             `CASE WHEN NOT p.received THEN $5::int[] || $6::int[] || $7::int[]
                    WHEN p.user_id = ANY($7::int[]) THEN $5::int[] || $6::int[] || p.user_id ELSE $5::int[] || $6::int[] END`,
           )}
      FROM msg CROSS JOIN parties p
      LEFT JOIN LATERAL (SELECT pc.thread_id, pc.message_id FROM message_copies pc
                          WHERE pc.user_id = p.user_id AND pc.message_id = $4 ORDER BY pc.received LIMIT 1) parent ON true
    RETURNING received, thread_id, in_reply_to, message_copies AS copy
  ), ${budgetSpend({
    name: "spent",
    key: "k",
    points: "1",
    now: "$11",
    windowMs: "$12",
    from: "FROM (SELECT DISTINCT unnest($10::text[]) AS k ORDER BY k) keys WHERE EXISTS (SELECT 1 FROM msg)",
  })}, counters AS (
    INSERT INTO mailbox_counters AS mc (user_id, folder, total, unread)
    SELECT d.user_id, d.folder, CASE WHEN ${COUNTS_OWN} THEN sum(d.total)::int ELSE 0 END, CASE WHEN ${COUNTS_OWN} THEN sum(d.unread)::int ELSE 0 END
      FROM copies CROSS JOIN LATERAL mailbox_counter_deltas(copies.copy, 1) d
     WHERE (SELECT count(*) FROM spent) >= 0
     GROUP BY d.user_id, d.folder ORDER BY d.user_id, d.folder
    ON CONFLICT (user_id, folder) DO UPDATE SET total = mc.total + excluded.total, unread = mc.unread + excluded.unread
    RETURNING mc.user_id, mc.folder, mc.unread
  ), inboxes AS (
    SELECT user_id, unread + CASE WHEN ${COUNTS_OWN} THEN 0 ELSE 1 END AS unread_count FROM counters WHERE folder = 'inbox'
  ), ${logEachCtes("inboxes", INBOX_COLUMNS, fillPending("$14", { id: "msg.id", timestamp: "msg.sent_at", unreadCount: "n.unread_count", senderUsername: "sender.username" }), "CROSS JOIN msg CROSS JOIN sender")}`;
};

// The send's answer: one row, with the message's id NULL when nothing was stored.
const SEND_ANSWER = `
  SELECT msg.id, msg.sent_at,
         (SELECT json_object_agg(p.id, p.username) FROM (SELECT id, username FROM found UNION ALL SELECT $1, username FROM sender) p) AS names,
         (SELECT json_build_object('thread_id', thread_id, 'in_reply_to', in_reply_to) FROM copies WHERE NOT received) AS own,
         (SELECT json_agg(json_build_object('user_id', b.user_id, 'seq', b.seq, 'unread_count', n.unread_count))
            FROM bumped b ${sourceRowOf(INBOX_COLUMNS, "b")}) AS logged,
         (SELECT mail_refuse('${RECIPIENT_BUDGET_SPENT}', max(s.expire)::text) FROM spent s WHERE s.points > $13 HAVING count(*) > 0) AS refused,
         (SELECT mail_refuse('${SENDER_BUDGET_SPENT}', r.until::text)
            FROM (SELECT ${senderRefusedUntilSql(SENDER)} AS until) r WHERE r.until IS NOT NULL) AS sender_refused,
         ${COUNTED_BY_STATEMENT("msg.id", COUNTS_OWN)} AS counted
    FROM (VALUES (1)) AS one (x) LEFT JOIN msg ON true`;

export const SEND_MESSAGE = `WITH ${sendCtes(false)} ${SEND_ANSWER}`;

interface Sent {
  /** Null when nothing was stored: a recipient unknown. */
  id: number | null;
  sent_at: string;
  names: Record<string, string>;
  own: { thread_id: number; in_reply_to: number | null };
  logged: { user_id: number; seq: number; unread_count: number }[];
}

/** SEND_MESSAGE's values after the sender's id and before COUNTS_OWN; null when the addressing cannot be stored (no `to`, an id beyond int4). */
function sendValues(
  senderId: number,
  input: NewMessage,
  budget: RecipientBudget | undefined,
  senderBudget: SenderBudget | undefined,
): unknown[] | null {
  const { to, cc, bcc, recipients } = addressingOf(input);
  if (to.length === 0 || !recipients.every(canBeId)) return null;
  const event = pendingEvent(({ id, timestamp, unreadCount, senderUsername }) =>
    newMessageEvent({ id, sender_id: senderId, sender_username: senderUsername, title: input.title, timestamp }, unreadCount),
  );
  return [
    input.title,
    input.body,
    input.in_reply_to ?? null,
    to,
    cc,
    bcc,
    recipients,
    input.thread_id ?? null,
    budget?.keys ?? [],
    budget?.now ?? 0,
    budget?.windowMs ?? 0,
    budget?.limit ?? 0,
    event,
    ...senderSpendValues(senderBudget),
  ];
}

/** A message's addressing as stored (see `addressing`), `recipient_id` being the original's one `to`. */
export const addressingOf = (input: Pick<NewMessage, "recipient_id" | "to" | "cc" | "bcc">) =>
  addressing(input.to ?? (input.recipient_id === undefined ? [] : [input.recipient_id]), input.cc, input.bcc);

/** The sender's view and the recipients' frames, built from what the send's statement returned rather than read back; null when nothing was stored. */
function sentOutcome(senderId: number, input: NewMessage, sent: Sent): Extract<SendOutcome, { kind: "sent" }> | null {
  if (sent.id === null) return null;
  const { to, cc, bcc, recipients } = addressingOf(input);
  const named = (ids: number[]) => ids.map((id) => ({ id, username: sent.names[id] }));
  const message: MessageT = {
    id: sent.id,
    sender_id: senderId,
    recipient_id: to[0],
    title: input.title,
    body: input.body,
    timestamp: sent.sent_at,
    is_read: false,
    sender_username: sent.names[senderId],
    recipient_username: sent.names[to[0]],
    in_reply_to: sent.own.in_reply_to,
    thread_id: sent.own.thread_id,
    to: named(to),
    cc: named(cc),
    bcc: named(bcc),
    folder: "sent",
    copy: "sent",
    is_starred: false,
    read_by: [],
    attachments: [],
  };
  const logged = new Map(sent.logged.map((l) => [l.user_id, l]));
  const frames = recipients.map((userId) => {
    const { seq, unread_count: unreadCount } = logged.get(userId) as Sent["logged"][number];
    return { userId, frame: toFrame(newMessageEvent(message, unreadCount), seq) };
  });
  return { kind: "sent", message, recipientUnreadCount: logged.get(recipients[0])?.unread_count ?? 0, frames };
}

/**
 * Stores the message, every party's copy, the recipients' budgets and their new_message events in
 * one statement (SEND_MESSAGE); null when a recipient is unknown (nothing is stored).
 */
async function storeMessage(
  db: Queryable,
  senderId: number,
  input: NewMessage,
  budget: RecipientBudget | undefined,
  senderBudget: SenderBudget | undefined,
): Promise<Extract<SendOutcome, { kind: "sent" }> | null> {
  const values = sendValues(senderId, input, budget, senderBudget);
  if (!values) return null;
  // Named: each connection parses and plans it once, then sends only its values.
  const { rows } = await db.query<Sent>({
    name: "send-message",
    text: SEND_MESSAGE,
    values: [senderId, ...values, await schemaReached(db, COUNTED_COPIES_MIGRATION)],
  });
  return sentOutcome(senderId, input, rows[0]);
}

/** A send its statement refused: a budget spent, the statement rolled back. */
type SendRefused = Extract<SendOutcome, { kind: "sender_budget_spent" | "recipient_budget_spent" }>;

/** The refusal a send's statement failed with, or undefined for any other error. */
function refusalOf(error: unknown): SendRefused | undefined {
  if (hasSqlState(error, RECIPIENT_BUDGET_SPENT)) return { kind: "recipient_budget_spent", expire: Number(error.message) };
  if (hasSqlState(error, SENDER_BUDGET_SPENT)) return { kind: "sender_budget_spent", expire: Number(error.message) };
  return undefined;
}

/** What a send riding on the lookup read: its statement's answer, or its refusal. */
export type RiddenSend = Sent | SendRefused;

const SEND_RIDER = defineUserRider<unknown[], RiddenSend>("send-message", SEND_ANSWER, sendCtes(true));

/**
 * The one-statement send (no key, no files, the sender's budgets spent by the statement) as a
 * ride on the statement that authenticates the request: the send is then one round trip. Null
 * when it cannot ride: an addressing that cannot be stored, or a schema not yet known to count
 * the send's own copies (the send made alone asks).
 */
export function sendRide(
  senderId: number,
  input: NewMessage,
  budget: RecipientBudget,
  senderBudget: SenderBudget,
): Ride<RiddenSend> | null {
  if (!schemaKnownReached(COUNTED_COPIES_MIGRATION)) return null;
  const values = sendValues(senderId, input, budget, senderBudget);
  return values && { ...SEND_RIDER.with(...values, true), recover: refusalOf };
}

/** The outcome of a send that rode on the lookup. */
export const rodeOutcome = (senderId: number, input: NewMessage, ridden: RiddenSend): SendOutcome =>
  "kind" in ridden ? ridden : (sentOutcome(senderId, input, ridden) ?? { kind: "recipient_not_found" });

/**
 * Stores a message, or replays the answer to an earlier request with the same idempotency key.
 * Without a key or `onStored`, the send is the one statement (no BEGIN and COMMIT round trips).
 */
export async function sendMessage(
  senderId: number,
  input: NewMessage,
  { idempotencyKey, recipientBudget, senderBudget, onStored, asked }: SendOptions = {},
): Promise<SendOutcome> {
  try {
    if (idempotencyKey === undefined && onStored === undefined)
      return (await storeMessage(getPool(), senderId, input, recipientBudget, senderBudget)) ?? { kind: "recipient_not_found" };
    // The transaction would commit a claimed key beside a refusal: such a send spends them first.
    if (senderBudget) throw new Error("the sender's budgets ride only on a send of one statement");
    return await inTransaction(async (tx): Promise<SendOutcome> => {
      if (idempotencyKey !== undefined) {
        const { thread_id: _derived, ...given } = input;
        const claim = await claimKey(tx, senderId, idempotencyKey, fingerprint(asked ?? given));
        if (claim.kind === "replayed") return replayOf(claim.messageId, tx);
        if (claim.kind !== "claimed") return claim;
      }
      const sent = await storeMessage(tx, senderId, input, recipientBudget, undefined);
      // Thrown, not returned: the claimed key must roll back with the failed send.
      if (!sent) throw new RecipientNotFound();
      await onStored?.(tx, sent.message.id);
      if (idempotencyKey !== undefined) await recordAnswer(tx, senderId, idempotencyKey, sent.message.id);
      return sent;
    });
  } catch (error) {
    if (error instanceof RecipientNotFound) return { kind: "recipient_not_found" };
    const refused = refusalOf(error);
    if (refused) return refused;
    throw error;
  }
}

export interface SqlQuery {
  text: string;
  values: unknown[];
  /** Set when the statement is prepared once per connection and may run on a generic plan (see preparedListQuery). */
  name?: string;
}

/** The filters of GET /messages/ (and of the inbox and outbox, which fix the folder). */
export interface ListFilters {
  /** One folder; absent: every folder but trash. */
  folder?: Folder;
  starred?: boolean;
  /** true: unread received copies only; false: read ones (and sent copies). */
  unread?: boolean;
  from?: number;
  to?: number;
  since?: Date;
  until?: Date;
  has_attachments?: boolean;
}

/** The largest id a message can have (message ids are int4). */
const MAX_MESSAGE_ID = 2 ** 31 - 1;

/**
 * Newest first, keyset-paged on the message id, over one user's copies: each filter is a condition
 * some partial or leading-column index of message_copies serves (migration 12), so a page costs
 * the same in a mailbox of any size. Ordered by message_id::bigint, the key of those indexes and
 * of no other (the same order: int4 widens to int8 unchanged).
 *
 * A time bound (since, until) is the exception: no B-tree holds both the time range and the id
 * order (imports keep their times, concurrent sends commit out of order), so a bound excluding
 * the newest copies would walk past all of them. Then the page is read from the GiST index over
 * (user, time, id) (migration 24) nearest first to the highest id it may hold: the time range is
 * its index condition, and the distance to that id orders the page newest first.
 */
export function listQuery(userId: number, filters: ListFilters, page: Page, written: PageWritten = "rows"): SqlQuery {
  const parts = listParts(userId, filters, page, written);
  return { text: listText(parts), values: parts.values };
}

/**
 * How a page comes back: as rows, one per message, or (bounded in bytes) as the answer's text
 * as written (PageRow, pageJsonSql), which the endpoints send.
 */
export type PageWritten = "rows" | "json";

/** A page the endpoints ask for: bounded in bytes (LIST_MAX_BYTES). */
export type BoundedPage = Page & { maxBytes: number };

/** What a list's text is made of (its conditions, order and bounds), and its values. */
interface ListParts {
  values: unknown[];
  where: string;
  order: PageOrder;
  limit: { param: string; rows: number };
  maxBytes?: string;
  written: PageWritten;
}

function listText(parts: Omit<ListParts, "values">): string {
  const from = `${FROM_COPIES} WHERE ${parts.where}`;
  if (parts.written === "rows") return pageSql(from, parts.order, parts.limit, parts.maxBytes);
  if (parts.maxBytes === undefined) throw new Error("a page written as JSON is bounded in bytes");
  return pageJsonSql(from, parts.order, parts.limit, parts.maxBytes);
}

function listParts(userId: number, filters: ListFilters, page: Page, written: PageWritten): ListParts {
  const values: unknown[] = [userId];
  const param = (value: unknown) => `$${values.push(value)}`;
  const where = ["c.user_id = $1"];
  // Every folder but trash is "not trashed" (message_copies_live_idx).
  where.push(filters.folder ? `c.folder = ${param(filters.folder)}` : "c.trashed_at IS NULL");
  if (filters.starred !== undefined) where.push(filters.starred ? "c.is_starred" : "NOT c.is_starred");
  if (filters.unread === true) where.push("c.received AND NOT c.is_read");
  if (filters.unread === false) where.push("NOT (c.received AND NOT c.is_read)");
  if (filters.from !== undefined) where.push(`c.sender_id = ${param(filters.from)}`);
  if (filters.to !== undefined) where.push(`c.addressee_keys @> ARRAY[${ADDRESSEE_KEY_SQL("$1::int", `${param(filters.to)}::int`)}]`);
  if (filters.since !== undefined) where.push(`c."timestamp" >= ${param(filters.since)}`);
  if (filters.until !== undefined) where.push(`c."timestamp" <= ${param(filters.until)}`);
  if (filters.has_attachments !== undefined) where.push(filters.has_attachments ? "c.has_attachments" : "NOT c.has_attachments");
  let order: PageOrder = { key: "c.message_id::bigint", descending: true };
  if (filters.since !== undefined || filters.until !== undefined) {
    // before_id may lie beyond int4 (a cursor is any positive integer): every id is below it then.
    const highest = param(page.before_id === undefined ? MAX_MESSAGE_ID : Math.min(page.before_id - 1, MAX_MESSAGE_ID));
    where.push(`c.message_id <= ${highest}::int`);
    order = { key: `c.message_id <-> ${highest}::int` };
  } else if (page.before_id !== undefined) where.push(`c.message_id::bigint < ${param(page.before_id)}`);
  const q = searchWords(page.q);
  if (q) where.push(SEARCH(values.push(q)));
  const limit = { param: param(page.limit), rows: page.limit };
  const maxBytes = page.maxBytes === undefined ? undefined : param(page.maxBytes);
  return { values, where: where.join(" AND "), order, limit, maxBytes, written };
}

/**
 * Whether a list of this shape may run on a generic plan, one planned without the parameters'
 * values. Named (prepared) statements skip planning the message view (a dozen subqueries a row) on
 * every request, and after five runs PostgreSQL keeps a generic plan when it costs about what the
 * custom ones did; that plan must then be right for every user and value. It is when each value
 * only selects a range of one index whose order is the page's: the user, the folder (the leading
 * columns of folder_idx, or of unread_idx for unread copies; or no folder and live_idx, for every
 * copy or the read ones), before_id, the limit and the byte bound; unread and read are constants
 * in the text. The page's rows are planned under a constant bound (plannedPageRows), so the
 * generic plan never looks dearer than a custom one, whatever the mailboxes hold.
 *
 * The others stay unnamed, planned with their values each time: from, whose best plan depends on
 * how rare the sender is in this mailbox (from_idx, or the folder's index filtered by sender); to,
 * the GIN index of addressees against a walk of the folder's index; starred and has_attachments,
 * whose partial index beside a folder wins or loses by how full that folder is; since
 * and until, whose range a generic plan can only guess: beside unread it read every unread copy
 * from unread_idx and sorted them instead of the GiST index's page; and q (see SEARCH).
 */
function mayRunGeneric(filters: ListFilters, page: Page): boolean {
  const { folder, unread, ...others } = filters;
  // Across folders unread_idx is not in page order (folder is its second column): a generic plan
  // read every unread copy of the user and sorted them, where a custom one walks live_idx, or takes
  // unread_idx when this mailbox's unread copies are few.
  if (unread === true && folder === undefined) return false;
  return searchWords(page.q) === undefined && Object.values(others).every((value) => value === undefined);
}

/** The list query, named when its shape may run on a generic plan (mayRunGeneric). */
export function preparedListQuery(userId: number, filters: ListFilters, page: Page, written: PageWritten = "rows"): SqlQuery {
  return mayRunGeneric(filters, page) ? namedListQuery(userId, filters, page, written) : listQuery(userId, filters, page, written);
}

// The text and name of each named shape, made once. A list's text depends on which conditions it
// has, never on their values; building it and hashing it to its name on every page cost the app
// more than reading the page's rows did. Named shapes are few (mayRunGeneric); the bound holds the
// map to that, whatever limits clients ask for.
const namedLists = new Map<string, { name: string; text: string }>();
const NAMED_LISTS_MAX = 256;

function namedListQuery(userId: number, filters: ListFilters, page: Page, written: PageWritten): SqlQuery & { name: string } {
  const { values, ...shape } = listParts(userId, filters, page, written);
  // Keyed by all the text is made of, its values apart.
  const key = JSON.stringify(shape);
  let named = namedLists.get(key);
  if (!named) {
    const text = listText(shape);
    named = { name: statementName("list", text), text };
    if (namedLists.size >= NAMED_LISTS_MAX) namedLists.clear();
    namedLists.set(key, named);
  }
  return { ...named, values };
}

/**
 * A page, each message written as its JSON (PageRow), that rides on the statement authenticating the request
 * (one round trip for both; userRowsRide), when its shape may run on a generic plan; null for the
 * others, which are planned with their values in a statement of their own (readListPage).
 */
export function listRide(filters: ListFilters, page: BoundedPage): StatementRide<PageRow[]> | null {
  if (!mayRunGeneric(filters, page)) return null;
  // The user's id is the ride's $1, as it is the list's: only the list's own values are its keys.
  const { name, text, values } = namedListQuery(0, filters, page, "json");
  return userRowsRide<PageRow>(name, text, values.slice(1));
}

/** A page of the user's copies as its answer: the one the ride read (listRide), or read now. */
export async function readListPage(
  userId: number,
  filters: ListFilters,
  page: BoundedPage,
  ridden?: readonly PageRow[] | null,
): Promise<PageText> {
  const rows = ridden ?? (await getPool().query<PageRow>({ ...preparedListQuery(userId, filters, page, "json"), rowMode: "array" })).rows;
  return pageText(rows, page.maxBytes);
}

const INBOX = (page: { unread?: boolean }): ListFilters => ({ folder: "inbox", unread: page.unread });
const OUTBOX: ListFilters = { folder: "sent" };

/** Received copies in the inbox. */
export const inboxQuery = (userId: number, page: Page & { unread?: boolean }, written?: PageWritten) =>
  preparedListQuery(userId, INBOX(page), page, written);
export const inboxRide = (page: BoundedPage & { unread?: boolean }) => listRide(INBOX(page), page);
export const readInboxPage = (userId: number, page: BoundedPage & { unread?: boolean }, ridden?: readonly PageRow[] | null) =>
  readListPage(userId, INBOX(page), page, ridden);

/** The sender's copies in sent. */
export const outboxQuery = (userId: number, page: Page, written?: PageWritten) => preparedListQuery(userId, OUTBOX, page, written);
export const outboxRide = (page: BoundedPage) => listRide(OUTBOX, page);
export const readOutboxPage = (userId: number, page: BoundedPage, ridden?: readonly PageRow[] | null) =>
  readListPage(userId, OUTBOX, page, ridden);

/** A page as rows, one per message: what the benchmarks' floors and the tests read. */
async function list(query: SqlQuery): Promise<MessageT[]> {
  const { rows } = await getPool().query<MessageRow>(query);
  return rows.map(toMessage);
}

export const listInbox = (userId: number, page: Page & { unread?: boolean }) => list(inboxQuery(userId, page));
export const listOutbox = (userId: number, page: Page) => list(outboxQuery(userId, page));
export const listMessages = (userId: number, filters: ListFilters, page: Page) => list(preparedListQuery(userId, filters, page));

/**
 * The throughput benchmark's floor for a send: one row in messages, the names joined in the same
 * statement, no copies, counters, limits or event log (bench/throughput/floor-server.ts).
 */
export async function insertFloorMessage(
  tx: Queryable,
  senderId: number,
  input: { recipient_id: number; title: string; body: string },
): Promise<
  Pick<MessageT, "id" | "sender_id" | "recipient_id" | "title" | "body" | "timestamp" | "sender_username" | "recipient_username">
> {
  const { rows } = await tx.query(
    `WITH m AS (INSERT INTO messages (sender_id, recipient_id, title, body, to_ids) VALUES ($1, $2, $3, $4, ARRAY[$2::int])
                RETURNING id, sender_id, recipient_id, title, body, "timestamp")
     SELECT m.*, s.username AS sender_username, r.username AS recipient_username
       FROM m JOIN users s ON s.id = m.sender_id JOIN users r ON r.id = m.recipient_id`,
    [senderId, input.recipient_id, input.title, input.body],
  );
  return { ...rows[0], timestamp: (rows[0].timestamp as Date).toISOString() };
}
