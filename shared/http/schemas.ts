/**
 * The zod schemas of every request and response: the validators the handlers run and the
 * source of the OpenAPI document. They coerce as Pydantic's lax mode does.
 */
import { z } from "zod";

import { FORBIDDEN_CHARACTERS_MESSAGE, normalizeUsername, usernameProblem } from "../auth/usernames";
import { FILENAME_MAX, filenameProblem } from "../storage/rules";

/** Ids are SERIAL (int4) columns: no row has a larger one. */
export const ID_MAX = 2_147_483_647;

const INTEGER_TEXT = /^\s*[-+]?\d+\s*$/;

/** An integer sent as a JSON number or as a numeric string ("2"), as Pydantic accepts. */
export const laxInt = () => z.preprocess((v) => (typeof v === "string" && INTEGER_TEXT.test(v) ? Number(v) : v), z.int());

const TRUE_WORDS = new Set(["true", "1", "yes", "on", "t", "y"]);
const FALSE_WORDS = new Set(["false", "0", "no", "off", "f", "n"]);

/** A boolean query value as Pydantic reads it ("true", "1", "yes", "on" and their opposites). */
export const laxBool = () =>
  z.preprocess((v) => {
    if (typeof v !== "string") return v;
    const word = v.trim().toLowerCase();
    return TRUE_WORDS.has(word) ? true : FALSE_WORDS.has(word) ? false : v;
  }, z.boolean());

/** Length in characters (code points), as Python counts it, not UTF-16 units. */
const codePoints = (s: string) => [...s].length;

const textOfLength = (min: number, max: number, options: { trim: boolean }, base = options.trim ? z.string().trim() : z.string()) => {
  return base
    .refine((s) => codePoints(s) >= min, {
      error: `String should have at least ${min} character${min === 1 ? "" : "s"}`,
      params: { type: "string_too_short" },
      abort: true,
    })
    .refine((s) => codePoints(s) <= max, { error: `String should have at most ${max} characters`, params: { type: "string_too_long" } })
    .meta({ minLength: min, maxLength: max });
};

export const USERNAME_MAX = 50;
export const PASSWORD_MIN = 8;
/** bcrypt reads the first 72 bytes only: a longer password would log in with any text after them. */
export const PASSWORD_MAX_BYTES = 72;
export const TITLE_MAX = 255;
export const BODY_MAX = 100_000;

/** A new username: NFKC-normalised and trimmed first, then measured and checked (shared/auth/usernames.ts). */
export const Username = textOfLength(1, USERNAME_MAX, { trim: true }, z.string().overwrite(normalizeUsername))
  .refine((s) => usernameProblem(s) === null, {
    error: FORBIDDEN_CHARACTERS_MESSAGE,
  })
  .describe(
    `1-${USERNAME_MAX} characters after NFKC normalisation and trimming; no control, invisible or bidirectional formatting characters; ` +
      "unique ignoring case and look-alike characters (Unicode confusables)",
  );

/** A password being set (registration, change): its length rules; the common-password check is the handler's. */
// At most as many characters as bytes, so the character bound documents the byte bound.
export const NewPassword = textOfLength(PASSWORD_MIN, PASSWORD_MAX_BYTES, { trim: false })
  // Only when the character count passed: one issue per problem.
  .refine((s) => codePoints(s) > PASSWORD_MAX_BYTES || Buffer.byteLength(s, "utf8") <= PASSWORD_MAX_BYTES, {
    error: `String should have at most ${PASSWORD_MAX_BYTES} bytes in UTF-8 (bcrypt reads no further)`,
    params: { type: "string_too_long" },
  })
  .describe(`${PASSWORD_MIN} characters to ${PASSWORD_MAX_BYTES} bytes in UTF-8, and not a common password`);

export const UserCreate = z.object({
  username: Username,
  password: NewPassword,
});

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

export const UserPublic = z.object({ id: z.int(), username: z.string() });

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

/** A user id as a request names it: an int4, or it names no user. */
const userId = () => laxInt().pipe(z.int().min(1).max(ID_MAX));
const recipientList = (what: string) => z.array(userId()).describe(`User ids of the ${what} recipients`);

export const MessageCreate = z
  .object({
    recipient_id: laxInt().optional().describe("The one recipient (the original form); or use `to`"),
    to: recipientList("main").min(1).optional(),
    cc: recipientList("carbon-copy").optional(),
    bcc: recipientList("blind-copy (seen only by the sender)").optional(),
    title: textOfLength(1, TITLE_MAX, { trim: true }),
    body: textOfLength(1, BODY_MAX, { trim: false }),
    in_reply_to: laxInt().nullable().optional().describe("The id of a message you sent or received: the new one joins its thread"),
  })
  .superRefine((m, ctx) => {
    if (m.recipient_id !== undefined && m.to !== undefined)
      ctx.addIssue({ code: "custom", path: ["to"], message: "Send either recipient_id or to, not both", params: { type: "value_error" } });
    else if (m.recipient_id === undefined && m.to === undefined)
      ctx.addIssue({ code: "custom", path: ["recipient_id"], message: "Field required", params: { type: "missing" } });
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

export const AttachmentSummary = z.object({
  id: z.uuid(),
  filename: z.string(),
  content_type: z.string(),
  size: z.int(),
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

/** The folders of a copy: received copies live in inbox, archive or trash; the sender's in sent or trash. */
export const FolderName = z.enum(["inbox", "archive", "trash", "sent"]);
export const Addressee = z.object({ id: z.int(), username: z.string() });

export const Message = z.object({
  id: z.int(),
  sender_id: z.int(),
  recipient_id: z.int().describe("The viewer when the viewer is a recipient; the first `to` in the sender's view"),
  title: z.string(),
  body: z.string(),
  timestamp: z.iso.datetime(),
  is_read: z.boolean().describe("The viewer's own read state; in the sender's view, true once every recipient has read it"),
  sender_username: z.string().describe('"deleted user" once the sender deleted their account'),
  recipient_username: z.string(),
  in_reply_to: z.int().nullable().describe("The message replied to, when the viewer has it"),
  thread_id: z.int().describe("The id of the first message of the conversation the viewer has"),
  to: z.array(Addressee),
  cc: z.array(Addressee),
  bcc: z.array(Addressee).describe("In the sender's view only; [] in every other"),
  folder: FolderName.describe("The viewer's copy's folder"),
  is_starred: z.boolean(),
  read_by: z
    .array(z.object({ id: z.int(), read_at: z.iso.datetime().nullable() }))
    .describe("In the sender's view: the recipients who have read it (bcc included); [] in every other"),
});
export const MessageList = z.array(Message);

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

export const UnreadCount = z.object({ unread_count: z.int() });
export const MarkReadResult = z.object({ message: z.string() });
/** The path of every endpoint that names one message: /messages/{message_id}[/...]. */
export const MessagePath = z.object({ message_id: laxInt() });
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

export type UserPublicT = z.infer<typeof UserPublic>;
export type MessageT = z.infer<typeof Message>;
