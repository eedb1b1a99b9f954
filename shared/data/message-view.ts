/**
 * A message as one viewer sees it, read from that viewer's copy (alias c) and the stored message
 * (alias m). Every field of the message object is declared here once, as the SQL that computes
 * it and how its text goes into JSON; the select list, the field list of a subquery, the row type
 * and the JSON a page is written in (messageJsonSql) all follow from VIEW.
 */
import type { MessageT } from "../domain/schemas";

/** How a user is named once their account is deleted (the row stays as a tombstone; docs/mail-model.md). */
export const DELETED_USER_NAME = "deleted user";
const displayName = (u: string) => `CASE WHEN ${u}.deleted_at IS NULL THEN ${u}.username ELSE '${DELETED_USER_NAME}' END`;

/** A time as the API writes it (ISO 8601, UTC, milliseconds), formatted by the database. */
export const ISO = (t: string) => `to_char(${t} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * A user as a view names them, {id, username}, by primary key and never planned as a join (see
 * `addressees`): `alias` is that row, whose JSON (row_to_json) is the addressee object itself.
 */
const userById = (id: string, alias: string) =>
  `JOIN LATERAL (SELECT ${alias}.id, ${displayName(alias)} AS username FROM users ${alias} WHERE ${alias}.id = ${id} OFFSET 0) ${alias} ON true`;

/**
 * [{id, username}] of a list of user ids, in the order given. Each name is looked up by primary key
 * (OFFSET 0 keeps the lateral subquery from being flattened into a join): planned as a join, a few
 * ids against a small users table became a sequential scan of users for every row of a page.
 */
const addressees = (ids: string) =>
  `(SELECT coalesce(array_to_json(array_agg(row_to_json(n) ORDER BY a.ord)), '[]'::json)
      FROM unnest(${ids}) WITH ORDINALITY a(id, ord)
      ${userById("a.id", "n")})`;

/** A message of the old shape (to_ids NULL) was sent to recipient_id alone. */
export const TO_IDS = "coalesce(m.to_ids, ARRAY[m.recipient_id])";

const ADDRESSEES = `${TO_IDS} || coalesce(m.cc_ids, '{}') || coalesce(m.bcc_ids, '{}')`;

/** The one recipient a view names (the viewer, for a received copy; `r` is that user's row, see fromCopies). */
const RECIPIENT_ID = "CASE WHEN c.received THEN c.user_id ELSE m.recipient_id END";

/**
 * How a field goes into the message's JSON (messageJsonSql): "json", a number, a boolean or a value
 * the view builds as JSON, whose text is its JSON; "string", escaped; "plain", a string that never
 * holds a character JSON escapes (a fixed format, or one of a few words), quoted as it is.
 */
type JsonKind = "json" | "string" | "plain";

const VIEW = {
  id: { json: "json", sql: "m.id" },
  sender_id: { json: "json", sql: "m.sender_id" },
  recipient_id: { json: "json", sql: RECIPIENT_ID },
  title: { json: "string", sql: "m.title" },
  body: { json: "string", sql: "m.body" },
  // Formatted here, not parsed into a JavaScript Date: the send's statement writes the same text
  // into the new_message event, and the driver's parse can lose a millisecond (".57" -> 569 ms).
  timestamp: { json: "plain", sql: ISO('m."timestamp"') },
  // The sender's view: every addressee has a receipt (a receipt outlives the reader's copy).
  is_read: {
    json: "json",
    sql: `CASE WHEN c.received THEN c.is_read ELSE
      (SELECT count(*) FROM read_receipts rr WHERE rr.message_id = m.id) >= (SELECT count(DISTINCT a) FROM unnest(${ADDRESSEES}) a) END`,
  },
  sender_username: { json: "string", sql: "s.username" },
  recipient_username: { json: "string", sql: "r.username" },
  in_reply_to: { json: "json", sql: "c.in_reply_to" },
  thread_id: { json: "json", sql: "c.thread_id" },
  // Most mail goes to one addressee, the view's recipient, whose row the view has already.
  to: {
    json: "json",
    sql: `CASE WHEN ${TO_IDS} = ARRAY[${RECIPIENT_ID}] THEN json_build_array(row_to_json(r))
      ELSE ${addressees(TO_IDS)} END`,
  },
  cc: { json: "json", sql: addressees("coalesce(m.cc_ids, '{}')") },
  bcc: { json: "json", sql: `CASE WHEN c.received THEN '[]'::json ELSE ${addressees("coalesce(m.bcc_ids, '{}')")} END` },
  folder: { json: "plain", sql: "c.folder" },
  copy: { json: "plain", sql: "CASE WHEN c.received THEN 'received' ELSE 'sent' END" },
  is_starred: { json: "json", sql: "c.is_starred" },
  read_by: {
    json: "json",
    sql: `CASE WHEN c.received THEN '[]'::json ELSE (
      SELECT coalesce(array_to_json(array_agg(row_to_json(o) ORDER BY rr.read_at, rr.reader_id)), '[]'::json)
      FROM read_receipts rr CROSS JOIN LATERAL (SELECT rr.reader_id AS id, ${ISO("rr.read_at")} AS read_at) o
      WHERE rr.message_id = m.id) END`,
  },
  // Most mail carries no file: its count, on the message, spares a page a lookup per row.
  attachments: {
    json: "json",
    sql: `CASE WHEN m.attachment_count = 0 THEN '[]'::json ELSE (
      SELECT coalesce(array_to_json(array_agg(row_to_json(o) ORDER BY a.position)), '[]'::json)
      FROM attachments a CROSS JOIN LATERAL (SELECT a.id, a.filename, a.content_type, a.size) o WHERE a.message_id = m.id) END`,
  },
} as const satisfies Record<keyof MessageT, { sql: string; json: JsonKind }>;

// The compiler holds VIEW to the message object: a field missing here, or one too many, fails.
type ViewFields = keyof typeof VIEW;
const _sameFields: [ViewFields] extends [keyof MessageT] ? ([keyof MessageT] extends [ViewFields] ? true : never) : never = true;
void _sameFields;

/** The select list of the message object. */
export const MESSAGE_COLUMNS = Object.entries(VIEW)
  .map(([name, field]) => `${field.sql} AS "${name}"`)
  .join(",\n    ");

/** The message object's field names, in the view's order. */
export const MESSAGE_FIELD_NAMES = Object.keys(VIEW) as (keyof MessageT)[];

/** The same fields, as a query over a subquery that selected MESSAGE_COLUMNS names them. */
export const MESSAGE_FIELDS = MESSAGE_FIELD_NAMES.map((name) => `"${name}"`).join(", ");

// A field's text as its JSON value; NULL as null (format writes NULL as nothing).
const JSON_VALUE: Record<JsonKind, (field: string) => string> = {
  json: (field) => `coalesce(${field}::text, 'null')`,
  string: (field) => `coalesce(to_json(${field})::text, 'null')`,
  plain: (field) => `coalesce('"' || ${field} || '"', 'null')`,
};

/**
 * The message's JSON, from the fields of a subquery that selected MESSAGE_COLUMNS (as `alias`):
 * the text JSON.stringify makes of the message object, as row_to_json writes it (its nested values
 * are built with row_to_json and array_to_json). Written with one format() of the fields' texts,
 * escaping only the strings that may need it: row_to_json looks up each field's type and its
 * output function again on every row, and escapes every string.
 */
export const messageJsonSql = (alias: string): string => {
  const fields = Object.entries(VIEW);
  const keys = fields.map(([name]) => `"${name}":%s`).join(",");
  const values = fields.map(([name, field]) => JSON_VALUE[field.json](`${alias}."${name}"`));
  return `format('{${keys}}', ${values.join(", ")})`;
};

/**
 * Copies (from `source`, message_copies or rows shaped like it) with their messages and the two
 * users the view names, each looked up by primary key. Planned as joins, a plan made for fewer rows
 * than a page (a generic plan takes a parameter LIMIT for a tenth of the rows) walked a
 * materialized scan of all users for every row of the page.
 */
export const fromCopies = (source: string) => `FROM ${source} c JOIN messages m ON m.id = c.message_id + 0
  ${userById("m.sender_id", "s")}
  ${userById(RECIPIENT_ID, "r")}`;
export const FROM_COPIES = fromCopies("message_copies");

/**
 * The sender's copy as it was when the message was sent, rebuilt from the message itself ($1 its
 * id): what an idempotent replay answers, even once the sender has deleted their copy.
 */
export const AS_SENT = `(SELECT o.sender_id AS user_id, o.id AS message_id, false AS received, 'sent'::text AS folder, true AS is_read,
    NULL::timestamptz AS read_at, false AS is_starred, coalesce(o.thread_id, o.id) AS thread_id, o.in_reply_to
    FROM messages o WHERE o.id = $1)`;

/** A row of MESSAGE_COLUMNS is the message object itself. */
export type MessageRow = MessageT;

export const toMessage = (row: MessageRow): MessageT => row;
