/**
 * The schemas of the HTTP API's requests and responses beyond the domain's own: queries, paging,
 * headers and the bodies of answers. The domain's schemas (shared/domain/schemas.ts) are
 * re-exported, so an endpoint takes every schema it declares from here.
 */
import { z } from "zod";

import { COPY_KINDS } from "../domain/folders";
import { FolderName, laxInt, Message, NewPassword, rowId, textOfLength, userId, USERNAME_MAX, UserPublic } from "../domain/schemas";
import { FILENAME_MAX, filenameProblem } from "../storage/rules";

export * from "../domain/schemas";

const TRUE_WORDS = new Set(["true", "1", "yes", "on", "t", "y"]);
const FALSE_WORDS = new Set(["false", "0", "no", "off", "f", "n"]);

/** A boolean query value as Pydantic reads it ("true", "1", "yes", "on" and their opposites). */
export const laxBool = () =>
  z.preprocess((v) => {
    if (typeof v !== "string") return v;
    const word = v.trim().toLowerCase();
    return TRUE_WORDS.has(word) ? true : FALSE_WORDS.has(word) ? false : v;
  }, z.boolean());

const required = { error: "Field required", params: { type: "missing" } } as const;

/**
 * `POST /token`: the OAuth2 password grant (the original's form), or the refresh-token grant
 * (RFC 6749 6). Login accepts any stored password: length rules apply to new accounts only.
 */
export const LoginForm = z
  .object({
    username: z.string().optional(),
    password: z.string().optional(),
    grant_type: z
      .string()
      .regex(/^(password|refresh_token)$/, { error: "String should match pattern '^(password|refresh_token)$'" })
      .optional()
      .describe("`password` (the default) or `refresh_token`"),
    refresh_token: z
      .string()
      .optional()
      .describe("With grant_type=refresh_token: the refresh token of the last answer (spent by this call)"),
    scope: z.string().optional(),
    client_id: z.string().optional(),
    client_secret: z.string().optional(),
    /** The device token an earlier login answered (shared/auth/device-tokens.ts); browsers send the cookie instead. */
    device_token: z.string().optional(),
  })
  .superRefine((form, ctx) => {
    const fields = form.grant_type === "refresh_token" ? (["refresh_token"] as const) : (["username", "password"] as const);
    for (const field of fields) if (form[field] === undefined) ctx.addIssue({ code: "custom", path: [field], ...required });
  });

export const Token = z.object({
  access_token: z.string(),
  token_type: z.literal("bearer"),
  refresh_token: z.string().describe("Opaque; exchange it at POST /token (grant_type=refresh_token) for a new pair. Single use."),
  expires_in: z.int().describe("Seconds until access_token expires"),
  /** Sent back on later logins to this account, it keeps them heard while other clients' failures have spent the account's budget. */
  device_token: z.string().optional(),
});

export const Account = z.object({
  id: z.int(),
  username: z.string(),
  created_at: z.string().nullable().describe("ISO 8601 UTC; null for accounts created before this was recorded"),
});

export const SessionView = z.object({
  id: z.uuid(),
  created_at: z.string(),
  last_used_at: z.string().describe("The session's last login or refresh"),
  user_agent: z.string().nullable(),
  current: z.boolean().describe("Whether this is the session of the token making the request"),
});
export const SessionList = z.array(SessionView);

export const SessionPath = z.object({ session_id: z.uuid({ error: "Input should be a valid UUID" }) });

export const PasswordChange = z.object({
  current_password: z.string(),
  new_password: NewPassword,
});

export const AccountDeletion = z.object({ password: z.string() });
export const UserList = z.array(UserPublic);

export const USERS_PAGE_DEFAULT = 1000;
export const USERS_PAGE_MAX = 1000;

export const UsersQuery = z.object({
  q: z.string().max(USERNAME_MAX).optional().describe("Case-insensitive username prefix"),
  skip: laxInt().pipe(z.int().min(0)).default(0).describe("Users to skip (ordered by username)"),
  limit: laxInt()
    .pipe(z.int().min(1).max(USERS_PAGE_MAX))
    .default(USERS_PAGE_DEFAULT)
    .describe(`Page size, default ${USERS_PAGE_DEFAULT}, maximum ${USERS_PAGE_MAX}`),
});

/** A MIME type without parameters (RFC 9110's token/token), stored lowercase. */
const CONTENT_TYPE = /^[a-z0-9!#$&^_.+-]{1,63}\/[a-z0-9!#$&^_.+-]{1,127}$/;

export const AttachmentCreate = z.object({
  filename: textOfLength(1, FILENAME_MAX, { trim: false })
    .superRefine((name, ctx) => {
      const problem = filenameProblem(name);
      if (problem) ctx.addIssue({ code: "custom", message: problem, params: { type: "value_error" } });
    })
    .describe(`1-${FILENAME_MAX} characters; no control, bidirectional or path (/ \\) characters`),
  content_type: z
    .string()
    .trim()
    .toLowerCase()
    .regex(CONTENT_TYPE, { error: "Value error, content_type must be a MIME type such as image/png" })
    .describe("The file's MIME type; a download is served as it only when it is a raster image, PDF or plain text"),
  size: laxInt().pipe(z.int().min(0)).describe("The file's exact size in bytes; a larger one than ATTACHMENT_MAX_BYTES is a 413"),
});

export const UploadSlot = z.object({
  id: z.uuid(),
  upload_url: z.url().describe("Signed for this one blob: create and write it, nothing else"),
  method: z.literal("PUT"),
  headers: z.record(z.string(), z.string()).describe("Headers the upload must carry"),
  expires_at: z.iso.datetime(),
});

export const IDEMPOTENCY_KEY_HEADER = "idempotency-key";
export const IDEMPOTENCY_KEY_MAX = 255;

export const MessageSendHeaders = z.object({
  // Visible ASCII only (RFC 5234 VCHAR): no spaces, controls or other bytes a proxy might
  // rewrite, so the key the server stores is exactly the one the client retries with.
  [IDEMPOTENCY_KEY_HEADER]: z
    .string()
    .min(1)
    .max(IDEMPOTENCY_KEY_MAX)
    .regex(/^[!-~]*$/, { error: "String should match pattern '^[!-~]*$'" })
    .optional()
    .describe(
      "Makes a retry safe: the same key from the same sender within 24 hours answers with the first message (200, same body) and sends nothing again; " +
        "the same key with a different request is a 422 whose detail is a sentence; if both parties have deleted that message since, a 410 (nothing is sent again). " +
        "1-255 visible ASCII characters.",
    ),
});
export const MessageList = z.array(Message);

export const ExportedAttachment = z.object({ id: z.string(), filename: z.string(), content_type: z.string(), size: z.int() });

/** GET /users/me/export: streamed, so its size has no bound; described here for clients. */
export const AccountExport = z.object({
  exported_at: z.iso.datetime(),
  account: z.object({ id: z.int(), username: z.string(), created_at: z.iso.datetime().nullable() }),
  messages: z
    .array(Message.extend({ attachments: z.array(ExportedAttachment) }))
    .describe("Every copy in the mailbox, every folder (trash and sent included), oldest message first"),
});

export const MESSAGES_PAGE_DEFAULT = 1000;
export const MESSAGES_PAGE_MAX = 1000;

const pageFields = {
  limit: laxInt()
    .pipe(z.int().min(1).max(MESSAGES_PAGE_MAX))
    .default(MESSAGES_PAGE_DEFAULT)
    .describe(`Page size, default ${MESSAGES_PAGE_DEFAULT}, maximum ${MESSAGES_PAGE_MAX}`),
  before_id: laxInt()
    .pipe(z.int().min(1))
    .optional()
    .describe("Cursor: only messages with an id below this one (pass the last id of the previous page)"),
};

export const SEARCH_MAX = 500;

const search = {
  q: z
    .string()
    .max(SEARCH_MAX)
    .optional()
    .describe("Only messages whose title or body contain every word (case and accents ignored; a word matches the start of a word)"),
};

export const OutboxQuery = z.object({ ...pageFields, ...search });
export const ThreadQuery = z.object({
  limit: pageFields.limit,
  after_id: laxInt()
    .pipe(z.int().min(1))
    .optional()
    .describe("Cursor: only messages with an id above this one (pass the last id of the previous page)"),
});
export const InboxQuery = z.object({
  ...pageFields,
  ...search,
  unread: laxBool().optional().describe("true: only unread messages; false: only read ones"),
});

/** An ISO 8601 date-time (with Z or an offset) or date; anything else is a 422 naming the field. */
const isoInstant = (what: string) =>
  z
    .union([z.iso.datetime({ offset: true }), z.iso.date()], { error: "Input should be an ISO 8601 date or date-time" })
    .transform((text) => new Date(text))
    .optional()
    .describe(what);

export const ListQuery = z.object({
  ...pageFields,
  ...search,
  folder: FolderName.optional().describe("One folder; default: every folder but trash"),
  starred: laxBool().optional().describe("true: only starred copies; false: only unstarred ones"),
  unread: laxBool().optional().describe("true: only unread received copies; false: everything else"),
  from: userId().optional().describe("Only messages from this sender (a user id)"),
  to: userId()
    .optional()
    .describe("Only messages addressed to this user id, as you may see the addressing (bcc only in your own sent copies)"),
  since: isoInstant("Only messages sent at or after this instant (ISO 8601)"),
  until: isoInstant("Only messages sent at or before this instant (ISO 8601)"),
  has_attachments: laxBool().optional().describe("true: only messages with attachments; false: only those without"),
});

const FolderCount = z.object({ total: z.int(), unread: z.int() });
export const MailboxCounts = z.object({
  inbox: FolderCount,
  archive: FolderCount,
  trash: FolderCount,
  sent: z.object({ total: z.int() }),
  starred: FolderCount.describe("Starred copies outside trash"),
});

const copyFields = {
  folder: FolderName.optional().describe("inbox, archive or trash for a received copy; sent or trash for your own"),
  is_starred: z.boolean().optional(),
  is_read: z.boolean().optional().describe("Received copies only (ignored on your own sent copy)"),
};
const noEmptyChange = (set: Record<string, unknown>) => Object.values(set).some((v) => v !== undefined);

export const MessagePatch = z.object(copyFields).refine(noEmptyChange, {
  error: "Set at least one of folder, is_starred, is_read",
  params: { type: "missing" },
});

const copyChoice = z
  .enum(COPY_KINDS)
  .optional()
  .describe(
    "Which of your copies: `sent` (yours as its sender) or `received`. Only a note to yourself has both; without it the id names the received one (DELETE: both)",
  );

export const BULK_MAX_IDS = 500;

export const BulkRequest = z
  .object({
    ids: z.array(rowId()).min(1).max(BULK_MAX_IDS).describe(`1-${BULK_MAX_IDS} message ids; one listed twice counts once`),
    set: z
      .object(copyFields)
      .refine(noEmptyChange, { error: "Set at least one of folder, is_starred, is_read", params: { type: "missing" } })
      .optional(),
    delete: z.literal(true).optional().describe("true: delete your copies of these messages, as DELETE does"),
    copy: copyChoice,
  })
  .superRefine((b, ctx) => {
    if ((b.set === undefined) === (b.delete === undefined))
      ctx.addIssue({ code: "custom", path: ["set"], message: "Send either set or delete: true", params: { type: "value_error" } });
  });

export const BulkResult = z.object({
  updated: z.array(z.int()).describe("The ids whose copy was changed (or deleted), ascending"),
  not_found: z.array(z.int()).describe("The ids you hold no copy of"),
});

export const UnreadCount = z.object({ unread_count: z.int() });
export const MarkReadResult = z.object({ message: z.string() });
/** The path of every endpoint that names one message: /messages/{message_id}[/...]. */
export const MessagePath = z.object({ message_id: laxInt() });

/** GET, PATCH and DELETE /messages/{message_id}: which copy, for a note to oneself. */
export const CopyQuery = z.object({ copy: copyChoice });
export const MarkAllReadQuery = z.object({
  up_to_id: laxInt().pipe(z.int().min(1)).optional().describe("Only messages with an id up to this one (the newest the user has seen)"),
});
export const MarkAllReadResult = z.object({ marked: z.int() });

export const Health = z.object({ status: z.literal("ok") });

export const Negotiation = z.object({
  url: z.string().describe("WebSocket URL for this user, with its access token"),
  expires_at: z.iso.datetime(),
});

export const EVENTS_PAGE_DEFAULT = 500;
export const EVENTS_PAGE_MAX = 1000;

export const EventsQuery = z.object({
  after: laxInt()
    .pipe(z.int().min(0).max(Number.MAX_SAFE_INTEGER))
    .default(0)
    .describe("Only events with a seq above this one (the last seq the client has applied; 0 for all that are kept)"),
  limit: laxInt()
    .pipe(z.int().min(1).max(EVENTS_PAGE_MAX))
    .default(EVENTS_PAGE_DEFAULT)
    .describe(`Page size, default ${EVENTS_PAGE_DEFAULT}, maximum ${EVENTS_PAGE_MAX}`),
});

const EventFrame = z
  .looseObject({ event: z.string(), seq: z.int().min(1) })
  .describe("A realtime frame exactly as it was pushed to the user's sockets (the event's own fields and its seq)");

export const EventsPage = z.object({
  events: z.array(EventFrame).describe("Oldest first, every seq above `after`, without gaps"),
  latest_seq: z.int().min(0).describe("The user's latest seq when the page was read"),
});

export const EventsGoneBody = z.object({ detail: z.string(), latest_seq: z.int().min(0) });

export const ValidationErrorBody = z.object({
  detail: z.array(z.object({ loc: z.array(z.union([z.string(), z.int()])), msg: z.string(), type: z.string() })),
});
export const ErrorBody = z.object({ detail: z.string() });
