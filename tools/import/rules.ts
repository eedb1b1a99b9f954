/**
 * What the import does to original rows our rules refuse: each rule has a code (stored with the
 * row in import_original_users/messages.actions and listed in the report) and its description.
 * Pure functions: the writer asks the database only whether a name or an id is taken.
 */
import { BODY_MAX, codePoints, TITLE_MAX, USERNAME_MAX } from "../../shared/domain/schemas";
import { normalizeUsername, usernameProblem } from "../../shared/domain/usernames";

export const RULES = {
  username_normalized: "the username was NFKC-normalised, as registration does (fullwidth and compatibility forms became what they show)",
  username_forbidden_characters_removed: "control, invisible and bidirectional formatting characters were removed from the username",
  username_trimmed: "spaces around the username were removed (a login trims what is typed)",
  username_shortened: `the username was cut to ${USERNAME_MAX} characters`,
  username_empty_replaced: "nothing was left of the username: it became user-<original id>",
  username_renamed:
    "the username collides with an earlier one under our rules (equal ignoring case, or confusable): a ~2, ~3, ... suffix was added; the password still works",
  password_hash_not_bcrypt: "the stored hash is not bcrypt: the account was imported but no password logs it in",
  placeholder_for_missing_user:
    "messages name this original user id but no user row has it: a placeholder account (no password logs in) keeps their mail",
  placeholder_filled:
    "an earlier run made a placeholder for this user id (messages named it before the user was exported): the user took that account over, with its mail",
  id_renumbered: "the original id was taken in this database: a new id was given",
  title_unstorable_removed: "NUL characters were removed from the title and unpaired surrogates replaced by U+FFFD",
  title_blank_replaced: 'the title was empty or blank: it became "(no title)"',
  title_shortened: `the title was cut to ${TITLE_MAX} characters (the last one an ellipsis)`,
  body_unstorable_removed: "NUL characters were removed from the body and unpaired surrogates replaced by U+FFFD",
  body_empty_replaced: 'the body was empty: it became "(no text)"',
  body_shortened: `the body was cut to ${BODY_MAX} characters, ending with a note saying how long the original was`,
  timestamp_missing: "the message had no valid timestamp: it got the time of the import",
  sender_missing: "the sender id names no original user: the message is kept, from a placeholder account",
  recipient_missing: "the recipient id names no original user: the message is kept, to a placeholder account",
  skipped_both_users_missing: "neither sender nor recipient exists: nobody could read the message, so it was not imported",
} as const;

export type RuleCode = keyof typeof RULES;

export const NO_TITLE = "(no title)";
export const NO_TEXT = "(no text)";
const RENAME_SEPARATOR = "~";

const cut = (s: string, max: number) => [...s].slice(0, max).join("");
// A string is never longer in code points than in UTF-16 units: most skip the count.
const longerThan = (s: string, max: number) => s.length > max && codePoints(s) > max;

// eslint-disable-next-line no-control-regex -- U+0000 is what PostgreSQL cannot store
const NUL = /\u0000/g;
const LONE_SURROGATE = /\p{Cs}/gu;
const BCRYPT = /^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/;

export interface Cleaned {
  value: string;
  actions: RuleCode[];
}

/** The name our registration would accept (shared/domain/usernames.ts), before collisions are looked at. */
export function cleanUsername(raw: string, originalId: number): Cleaned {
  const actions: RuleCode[] = [];
  const normal = raw.normalize("NFKC");
  if (normal !== raw) actions.push("username_normalized");
  const allowed = [...normal].filter((c) => usernameProblem(c) === null).join("");
  if (allowed !== normal) actions.push("username_forbidden_characters_removed");
  let name = normalizeUsername(allowed);
  if (name !== allowed) actions.push("username_trimmed");
  if (!name) {
    name = `user-${originalId}`;
    actions.push("username_empty_replaced");
  }
  if (longerThan(name, USERNAME_MAX)) {
    name = cut(name, USERNAME_MAX).trim();
    actions.push("username_shortened");
  }
  return { value: name, actions };
}

/** The n-th candidate for a name that collides (n >= 2), still within the length limit. */
export function renamed(name: string, n: number): string {
  const suffix = `${RENAME_SEPARATOR}${n}`;
  return `${cut(name, USERNAME_MAX - suffix.length)}${suffix}`;
}

/** The original name as the record keeps it: PostgreSQL text cannot hold U+0000, so it shows as the symbol for null. */
export const recordableName = (name: string) => name.replace(NUL, "\u2400");

export const placeholderName = (originalId: number) => `missing-user-${originalId}`;

export const isBcryptHash = (hash: string) => BCRYPT.test(hash);

function storable(text: string): { text: string; changed: boolean } {
  const fixed = text.replace(NUL, "").replace(LONE_SURROGATE, "\uFFFD");
  return { text: fixed, changed: fixed !== text };
}

export function cleanTitle(raw: string): Cleaned {
  const actions: RuleCode[] = [];
  const fixed = storable(raw);
  let text = fixed.text;
  if (fixed.changed) actions.push("title_unstorable_removed");
  if (!text.trim()) {
    text = NO_TITLE;
    actions.push("title_blank_replaced");
  } else if (longerThan(text, TITLE_MAX)) {
    text = `${cut(text, TITLE_MAX - 1)}…`;
    actions.push("title_shortened");
  }
  return { value: text, actions };
}

const cutNote = (originalLength: number) => `\n\n[cut on import: the original message had ${originalLength} characters]`;

export function cleanBody(raw: string): Cleaned {
  const actions: RuleCode[] = [];
  const fixed = storable(raw);
  let text = fixed.text;
  if (fixed.changed) actions.push("body_unstorable_removed");
  if (text.length === 0) {
    text = NO_TEXT;
    actions.push("body_empty_replaced");
  } else if (longerThan(text, BODY_MAX)) {
    const note = cutNote(codePoints(text));
    text = cut(text, BODY_MAX - codePoints(note)) + note;
    actions.push("body_shortened");
  }
  return { value: text, actions };
}

const NAIVE_TIMESTAMP = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?$/;

/** The naive UTC timestamp to store, or `fallback` (the import's start) when it has none. */
export function cleanTimestamp(raw: string | null, fallback: string): Cleaned {
  if (raw !== null && NAIVE_TIMESTAMP.test(raw.trim())) return { value: raw.trim(), actions: [] };
  return { value: fallback, actions: ["timestamp_missing"] };
}
