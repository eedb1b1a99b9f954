/**
 * Writes one batch of original rows into our tables, with the rows recording what each became
 * (migration 11), in the caller's transaction: a batch is imported whole or not at all, and a
 * row already recorded is never imported again.
 */
import type { Queryable } from "../../shared/data/db";
import { fillUsernameKeys, REGISTRATION_LOCK_KEY, USER_SQL } from "../../shared/data/users";
import { usernameKeys, usernameSkeletons } from "../../shared/domain/usernames";
import type { OriginalMessage, OriginalUser } from "./original";
import {
  cleanBody,
  cleanTimestamp,
  cleanTitle,
  cleanUsername,
  isBcryptHash,
  placeholderName,
  recordableName,
  renamed,
  type RuleCode,
} from "./rules";

/** Hands out ids for rows whose original id is taken: a sequence's next values. */
export interface IdSequences {
  users: string;
  messages: string;
}

export interface WriteContext {
  sequences: IdSequences;
  /** A hash no password matches, for placeholders and unusable original hashes. */
  lockedHash: () => Promise<string>;
  /** Naive UTC time of the import's start, for messages without one. */
  startedAt: string;
  /**
   * Take registration's lock while names are chosen. A dry run does not: its one transaction
   * would hold the lock, and stop every registration, until it ends; and it commits nothing.
   */
  lockRegistrations: boolean;
}

export interface BatchOutcome {
  /** Rows recorded by this batch (imported or skipped by a rule). */
  written: number;
  /** Rows another run had already recorded. */
  alreadyDone: number;
}

async function recorded(db: Queryable, table: "import_original_users" | "import_original_messages", ids: number[]): Promise<Set<number>> {
  const { rows } = await db.query<{ id: number }>(`SELECT original_id AS id FROM ${table} WHERE original_id = ANY($1::int[])`, [ids]);
  return new Set(rows.map((r) => r.id));
}

async function nextIds(db: Queryable, sequence: string, n: number): Promise<number[]> {
  if (n === 0) return [];
  const { rows } = await db.query<{ id: string }>("SELECT nextval($1::regclass) AS id FROM generate_series(1, $2)", [sequence, n]);
  return rows.map((r) => Number(r.id));
}

/** Each wanted id where no row of `table` has it yet, else the sequence's next one. */
async function keepIdsWhereFree(
  db: Queryable,
  table: "users" | "messages",
  sequence: string,
  wanted: number[],
): Promise<{ ids: number[]; renumbered: boolean[] }> {
  const { rows } = await db.query<{ id: number }>(`SELECT id FROM ${table} WHERE id = ANY($1::int[])`, [wanted]);
  const taken = new Set(rows.map((r) => r.id));
  const fresh = await nextIds(db, sequence, wanted.filter((id) => taken.has(id)).length);
  const renumbered = wanted.map((id) => taken.has(id));
  return { ids: wanted.map((id) => (taken.has(id) ? (fresh.shift() as number) : id)), renumbered };
}

/**
 * Picks for each name (in order) the first of name, name~2, name~3, ... that collides neither
 * with a user who exists nor with an earlier name of the batch, by registration's own rule and
 * statement (shared/domain/usernames.ts, USER_SQL.taken), under registration's lock, so a
 * registration running meanwhile cannot take a look-alike of a name being imported.
 */
async function uniqueNames(db: Queryable, names: string[], lock: boolean): Promise<{ name: string; renamed: boolean }[]> {
  if (lock) await db.query(USER_SQL.lock, [REGISTRATION_LOCK_KEY]);
  await fillUsernameKeys(db);
  const claimed = new Set<string>();
  const free = async (candidate: string) => {
    const keys = usernameKeys(candidate);
    if (keys.some((key) => claimed.has(key))) return false;
    if ((await db.query(USER_SQL.taken, [candidate, keys])).rowCount) return false;
    for (const key of keys) claimed.add(key);
    return true;
  };
  const chosen: { name: string; renamed: boolean }[] = [];
  for (const name of names) {
    let candidate = name;
    for (let n = 2; !(await free(candidate)); n++) candidate = renamed(name, n);
    chosen.push({ name: candidate, renamed: candidate !== name });
  }
  return chosen;
}

interface UserRow {
  originalId: number;
  originalUsername: string | null;
  name: string;
  hash: string;
  actions: RuleCode[];
}

async function insertUsers(db: Queryable, rows: UserRow[], ctx: WriteContext): Promise<Map<number, number>> {
  const names = await uniqueNames(
    db,
    rows.map((r) => r.name),
    ctx.lockRegistrations,
  );
  const { ids, renumbered } = await keepIdsWhereFree(
    db,
    "users",
    ctx.sequences.users,
    rows.map((r) => r.originalId),
  );
  const skeletons = names.map((n) => usernameSkeletons(n.name));
  // Kept ids may lie past the sequence (placeholders for ids messages name): move it past them.
  await db.query("SELECT setval($1::regclass, $2) WHERE $2 > coalesce(pg_sequence_last_value($1::regclass), 0)", [
    ctx.sequences.users,
    Math.max(...ids),
  ]);
  const actions = rows.map((r, i) => [
    ...r.actions,
    ...(names[i].renamed ? (["username_renamed"] as const) : []),
    ...(renumbered[i] ? (["id_renumbered"] as const) : []),
  ]);
  await db.query(
    `WITH inserted AS (
       INSERT INTO users (id, username, hashed_password, username_skeleton, username_skeleton_folded)
       SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $7::text[], $8::text[])
     )
     INSERT INTO import_original_users (original_id, user_id, original_username, actions)
     SELECT o, u, n, string_to_array(a, ',') FROM unnest($4::int[], $1::int[], $5::text[], $6::text[]) AS t(o, u, n, a)`,
    [
      ids,
      names.map((n) => n.name),
      rows.map((r) => r.hash),
      rows.map((r) => r.originalId),
      rows.map((r) => r.originalUsername),
      actions.map((a) => a.join(",")),
      skeletons.map((k) => k.cased),
      skeletons.map((k) => k.folded),
    ],
  );
  return new Map(rows.map((r, i) => [r.originalId, ids[i]]));
}

function toUserRow(user: OriginalUser, lockedHash: string | null): UserRow {
  const { value, actions } = cleanUsername(user.username, user.id);
  if (lockedHash !== null) actions.push("password_hash_not_bcrypt");
  return {
    originalId: user.id,
    originalUsername: recordableName(user.username),
    name: value,
    hash: lockedHash ?? user.password_hash,
    actions,
  };
}

/**
 * A user who appears after an earlier run made a placeholder for their id (messages named them,
 * the export of users did not have them yet) takes the placeholder's account over, with its mail.
 */
async function fillPlaceholders(db: Queryable, rows: (UserRow & { userId: number })[], ctx: WriteContext): Promise<void> {
  const names = await uniqueNames(
    db,
    rows.map((r) => r.name),
    ctx.lockRegistrations,
  );
  for (const [i, row] of rows.entries()) {
    const { cased, folded } = usernameSkeletons(names[i].name);
    await db.query(
      "UPDATE users SET username = $2, hashed_password = $3, username_skeleton = $4, username_skeleton_folded = $5 WHERE id = $1",
      [row.userId, names[i].name, row.hash, cased, folded],
    );
    const actions = [...row.actions, ...(names[i].renamed ? ["username_renamed"] : []), "placeholder_filled"];
    await db.query("UPDATE import_original_users SET original_username = $2, actions = actions || $3::text[] WHERE original_id = $1", [
      row.originalId,
      row.originalUsername,
      actions,
    ]);
  }
}

export async function writeUsers(db: Queryable, users: OriginalUser[], ctx: WriteContext): Promise<BatchOutcome> {
  const known = await resolveUsers(
    db,
    users.map((u) => u.id),
  );
  const fresh: UserRow[] = [];
  const filling: (UserRow & { userId: number })[] = [];
  for (const user of [...users].sort((a, b) => a.id - b.id)) {
    const person = known.get(user.id);
    if (person && !person.placeholder) continue;
    const row = toUserRow(user, isBcryptHash(user.password_hash) ? null : await ctx.lockedHash());
    if (person) filling.push({ ...row, userId: person.id });
    else fresh.push(row);
  }
  if (fresh.length) await insertUsers(db, fresh, ctx);
  if (filling.length) await fillPlaceholders(db, filling, ctx);
  const written = fresh.length + filling.length;
  return { written, alreadyDone: users.length - written };
}

interface Person {
  id: number;
  placeholder: boolean;
}

/** Our user for each original user id already recorded (imported, or a placeholder). */
async function resolveUsers(db: Queryable, originalIds: number[]): Promise<Map<number, Person>> {
  const { rows } = await db.query<{ o: number; u: number; p: boolean }>(
    "SELECT original_id AS o, user_id AS u, original_username IS NULL AS p FROM import_original_users WHERE original_id = ANY($1::int[])",
    [originalIds],
  );
  return new Map(rows.map((r) => [r.o, { id: r.u, placeholder: r.p }]));
}

async function addPlaceholders(db: Queryable, originalIds: number[], ctx: WriteContext): Promise<Map<number, number>> {
  const hash = await ctx.lockedHash();
  const rows = [...new Set(originalIds)]
    .sort((a, b) => a - b)
    .map((id): UserRow => ({
      originalId: id,
      originalUsername: null,
      name: placeholderName(id),
      hash,
      actions: ["placeholder_for_missing_user"],
    }));
  return insertUsers(db, rows, ctx);
}

export async function writeMessages(
  db: Queryable,
  messages: OriginalMessage[],
  ctx: WriteContext,
): Promise<BatchOutcome & { skipped: number }> {
  const done = await recorded(
    db,
    "import_original_messages",
    messages.map((m) => m.id),
  );
  const todo = messages.filter((m) => !done.has(m.id));
  if (todo.length === 0) return { written: 0, alreadyDone: messages.length, skipped: 0 };
  const people = await resolveUsers(db, [...new Set(todo.flatMap((m) => [m.sender_id, m.recipient_id]))]);
  const real = (id: number) => people.get(id)?.placeholder === false;
  // A message nobody real can read is skipped; otherwise a missing side gets a placeholder.
  const readable = (m: OriginalMessage) => real(m.sender_id) || real(m.recipient_id);
  const needed = todo.filter(readable).flatMap((m) => [m.sender_id, m.recipient_id].filter((id) => !people.has(id)));
  if (needed.length) for (const [o, u] of await addPlaceholders(db, needed, ctx)) people.set(o, { id: u, placeholder: true });

  const kept: { m: OriginalMessage; sender: number; recipient: number; title: string; body: string; ts: string; actions: RuleCode[] }[] =
    [];
  const skipped: OriginalMessage[] = [];
  for (const m of todo) {
    if (!readable(m)) {
      skipped.push(m);
      continue;
    }
    const [sender, recipient] = [(people.get(m.sender_id) as Person).id, (people.get(m.recipient_id) as Person).id];
    const title = cleanTitle(m.title);
    const body = cleanBody(m.body);
    const ts = cleanTimestamp(m.timestamp, ctx.startedAt);
    const actions: RuleCode[] = [...title.actions, ...body.actions, ...ts.actions];
    if (!real(m.sender_id)) actions.push("sender_missing");
    if (!real(m.recipient_id)) actions.push("recipient_missing");
    kept.push({ m, sender, recipient, title: title.value, body: body.value, ts: ts.value, actions });
  }
  const { ids, renumbered } = await keepIdsWhereFree(
    db,
    "messages",
    ctx.sequences.messages,
    kept.map((k) => k.m.id),
  );
  kept.forEach((k, i) => renumbered[i] && k.actions.push("id_renumbered"));
  await db.query(
    `WITH inserted AS (
       INSERT INTO messages (id, sender_id, recipient_id, title, body, "timestamp", is_read)
       SELECT id, s, r, t, b, ts AT TIME ZONE 'UTC', rd
         FROM unnest($1::int[], $2::int[], $3::int[], $4::text[], $5::text[], $6::timestamp[], $7::bool[]) AS x(id, s, r, t, b, ts, rd)
     )
     INSERT INTO import_original_messages (original_id, message_id, actions)
     SELECT o, m, string_to_array(a, ',') FROM unnest($8::int[], $9::int[], $10::text[]) AS t(o, m, a)`,
    [
      ids,
      kept.map((k) => k.sender),
      kept.map((k) => k.recipient),
      kept.map((k) => k.title),
      kept.map((k) => k.body),
      kept.map((k) => k.ts),
      kept.map((k) => k.m.is_read === true),
      [...kept.map((k) => k.m.id), ...skipped.map((m) => m.id)],
      [...ids, ...skipped.map(() => null)],
      [...kept.map((k) => k.actions.join(",")), ...skipped.map(() => "skipped_both_users_missing")],
    ],
  );
  return { written: todo.length, alreadyDone: messages.length - todo.length, skipped: skipped.length };
}
