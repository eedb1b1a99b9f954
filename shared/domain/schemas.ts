/**
 * What a user and a message are, as zod schemas: their limits, the rules of a new one, and the
 * types every layer uses. The API validates with them (shared/http/schemas.ts re-exports them
 * beside its queries and answers) and they coerce as Pydantic's lax mode does.
 */
import { z } from "zod";

import { COPY_KINDS, FOLDERS } from "./folders";
import { FORBIDDEN_CHARACTERS_MESSAGE, normalizeUsername, usernameProblem } from "./usernames";

/** Ids are SERIAL (int4) columns: no row has a larger one. */
export const ID_MAX = 2_147_483_647;

/** A number that can name a row: a larger one must not reach the database as an id. */
export const canBeId = (n: number): boolean => Number.isSafeInteger(n) && n >= 1 && n <= ID_MAX;

const INTEGER_TEXT = /^\s*[-+]?\d+\s*$/;

/** An integer sent as a JSON number or as a numeric string ("2"), as Pydantic accepts. */
export const laxInt = () => z.preprocess((v) => (typeof v === "string" && INTEGER_TEXT.test(v) ? Number(v) : v), z.int());

/** Length in characters (code points), as Python counts it, not UTF-16 units. */
export const codePoints = (s: string) => [...s].length;

export const textOfLength = (
  min: number,
  max: number,
  options: { trim: boolean },
  base = options.trim ? z.string().trim() : z.string(),
) => {
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

/** A new username: NFKC-normalised and trimmed first, then measured and checked (shared/domain/usernames.ts). */
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

export const UserPublic = z.object({ id: z.int(), username: z.string() });

/** An id as a request names it (a user's, a message's): an int4 from 1, or it names no row. */
export const rowId = () => laxInt().pipe(z.int().min(1).max(ID_MAX));
export const userId = rowId;
const recipientList = (what: string) => z.array(userId()).describe(`User ids of the ${what} recipients`);

/** Files one message may carry (and ATTACHMENT_MAX_BYTES in all). */
export const ATTACHMENTS_PER_MESSAGE = 10;

export const MessageCreate = z
  .object({
    recipient_id: laxInt().optional().describe("The one recipient (the original form); or use `to`"),
    to: recipientList("main").min(1).optional(),
    cc: recipientList("carbon-copy").optional(),
    bcc: recipientList("blind-copy (seen only by the sender)").optional(),
    title: textOfLength(1, TITLE_MAX, { trim: true }),
    body: textOfLength(1, BODY_MAX, { trim: false }),
    in_reply_to: laxInt().nullable().optional().describe("The id of a message you sent or received: the new one joins its thread"),
    attachments: z
      .array(z.uuid())
      .max(ATTACHMENTS_PER_MESSAGE)
      .optional()
      .describe(`Ids of your own completed uploads (POST /attachments), at most ${ATTACHMENTS_PER_MESSAGE}`),
  })
  .superRefine((m, ctx) => {
    const ids = m.attachments ?? [];
    const repeated = ids.findIndex((id, i) => ids.indexOf(id) !== i);
    if (repeated >= 0)
      ctx.addIssue({
        code: "custom",
        path: ["attachments", repeated],
        message: "Value error, this attachment is listed twice",
        params: { type: "value_error" },
      });
    if (m.recipient_id !== undefined && m.to !== undefined)
      ctx.addIssue({ code: "custom", path: ["to"], message: "Send either recipient_id or to, not both", params: { type: "value_error" } });
    else if (m.recipient_id === undefined && m.to === undefined)
      ctx.addIssue({ code: "custom", path: ["recipient_id"], message: "Field required", params: { type: "missing" } });
  });

/** The folders of a copy: received copies live in inbox, archive or trash; the sender's in sent or trash. */
export const FolderName = z.enum(FOLDERS);
export const Addressee = z.object({ id: z.int(), username: z.string() });

export const AttachmentSummary = z.object({
  id: z.uuid(),
  filename: z.string(),
  content_type: z.string(),
  size: z.int(),
});

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
  copy: z
    .enum(COPY_KINDS)
    .describe("Which of the viewer's copies this is: the sender's (`sent`) or a recipient's (`received`); a note to oneself has both"),
  is_starred: z.boolean(),
  read_by: z
    .array(z.object({ id: z.int(), read_at: z.iso.datetime().nullable() }))
    .describe("In the sender's view: the recipients who have read it (bcc included); [] in every other"),
  attachments: z.array(AttachmentSummary).describe("Download each at GET /messages/{message_id}/attachments/{id}"),
});
export type UserPublicT = z.infer<typeof UserPublic>;
export type MessageT = z.infer<typeof Message>;
