import type { UserPublicT } from "../domain/schemas";
import { normalizeUsername, usernameKeys, usernameSkeletons } from "../domain/usernames";
import { getPool, inTransaction, type Queryable } from "./db";
import { isUniqueViolation } from "./db-errors";
import { ISO } from "./message-view";

/** A user as each authenticated request looks it up: enough to answer GET /users/me without another query. */
export interface SignedInUser extends UserPublicT {
  created_at: Date | null;
}

export interface UserRecord extends SignedInUser {
  hashed_password: string;
}

export type CreateUserOutcome = { kind: "created"; user: UserPublicT } | { kind: "username_taken" };

// Thrown inside the transaction so that it rolls back; answered as an outcome.
class UsernameTaken extends Error {}

// Any fixed number, distinct from the migration lock's (shared/data/migrate.ts).
export const REGISTRATION_LOCK_KEY = 727_009;

/** The statements of a registration, named so a test can check their plans use the indexes. */
export const USER_SQL = {
  lock: "SELECT pg_advisory_xact_lock($1)",
  // Case-insensitively equal, or sharing a confusable skeleton (shared/domain/usernames.ts): $2 holds the new name's keys.
  taken: `SELECT 1 FROM users
    WHERE lower(username) = lower($1) OR username_skeleton = ANY ($2::text[]) OR username_skeleton_folded = ANY ($2::text[]) LIMIT 1`,
  insert:
    "INSERT INTO users (username, hashed_password, username_skeleton, username_skeleton_folded) VALUES ($1, $2, $3, $4) RETURNING id, username",
  unkeyed: "SELECT id, username FROM users WHERE username_skeleton IS NULL ORDER BY id LIMIT $1",
  key: `UPDATE users u SET username_skeleton = k.cased, username_skeleton_folded = k.folded
    FROM json_to_recordset($1::json) AS k(id int, cased text, folded text) WHERE u.id = k.id`,
} as const;

const KEY_BATCH = 1000;

/**
 * Gives every user stored without collision keys its keys: the users that existed before
 * migration 9 (it calls this), and any row written by other means since (an import, a script, an
 * instance still running older code), before a registration checks against them.
 */
export async function fillUsernameKeys(tx: Queryable): Promise<number> {
  let filled = 0;
  for (;;) {
    const { rows } = await tx.query<{ id: number; username: string }>(USER_SQL.unkeyed, [KEY_BATCH]);
    if (rows.length === 0) return filled;
    await tx.query(USER_SQL.key, [JSON.stringify(rows.map((r) => ({ id: r.id, ...usernameSkeletons(r.username) })))]);
    filled += rows.length;
  }
}

/**
 * Stores a new user unless the name collides with one that exists. Names that already collide
 * among themselves (stored before the skeleton rule) keep working, so the rule cannot be a unique
 * index: it is a check made under one lock that every registration takes, so two registrations of
 * look-alike names run one after the other and the second sees the first. The password is hashed
 * before, so the lock is held for two short statements.
 */
export async function createUser(username: string, hashedPassword: string): Promise<CreateUserOutcome> {
  const skeletons = usernameSkeletons(username);
  try {
    const user = await inTransaction(async (tx) => {
      await tx.query(USER_SQL.lock, [REGISTRATION_LOCK_KEY]);
      await fillUsernameKeys(tx);
      const taken = await tx.query(USER_SQL.taken, [username, usernameKeys(username)]);
      if (taken.rowCount) throw new UsernameTaken();
      const { rows } = await tx.query<UserPublicT>(USER_SQL.insert, [username, hashedPassword, skeletons.cased, skeletons.folded]);
      return rows[0];
    });
    return { kind: "created", user };
  } catch (error) {
    if (error instanceof UsernameTaken || isUniqueViolation(error)) return { kind: "username_taken" };
    throw error;
  }
}

/**
 * Case-insensitive, as usernames are unique regardless of case. A name as typed matches first; else
 * its NFKC form, as registration stores it ("ｂｏｂ" finds "bob"), so names stored before that rule
 * still log in exactly as they were written.
 */
export async function findUserByUsername(username: string): Promise<UserRecord | null> {
  const { rows } = await getPool().query<UserRecord>(
    `SELECT id, username, hashed_password, created_at FROM users WHERE lower(username) IN (lower($1), lower($2)) AND deleted_at IS NULL
      ORDER BY lower(username) = lower($1) DESC LIMIT 1`,
    [username, normalizeUsername(username)],
  );
  return rows[0] ?? null;
}

// The user lookups that authenticate a request, with room for a rider's keys before the session's
// id (a rider's parameters are numbered from $2, see UserRider).
export const userByIdSql = (id = "$1") => `SELECT u.id, u.username, u.created_at FROM users u WHERE u.id = ${id} AND u.deleted_at IS NULL`;
const USER_BY_ID_SQL = userByIdSql();
export const sessionUserSql = (session = "$2", id = "$1") =>
  `SELECT u.id, u.username, u.created_at FROM users u JOIN sessions s ON s.user_id = u.id
    WHERE u.id = ${id} AND s.id = ${session} AND u.deleted_at IS NULL`;

export async function findUserById(id: number, db: Queryable = getPool()): Promise<SignedInUser | null> {
  const { rows } = await db.query<SignedInUser>({ name: "user-by-id", text: USER_BY_ID_SQL, values: [id] });
  return rows[0] ?? null;
}

export interface AccountRecord extends UserRecord {
  created_at: Date | null;
}

export async function findAccount(id: number, db: Queryable = getPool()): Promise<AccountRecord | null> {
  const { rows } = await db.query<AccountRecord>(
    "SELECT id, username, hashed_password, created_at FROM users WHERE id = $1 AND deleted_at IS NULL",
    [id],
  );
  return rows[0] ?? null;
}

export async function setPasswordHash(id: number, hashedPassword: string, db: Queryable = getPool()): Promise<void> {
  await db.query("UPDATE users SET hashed_password = $2 WHERE id = $1", [id, hashedPassword]);
}

/** The per-request lookup of a session's user, named so a test can check that it reads both primary keys. */
export const SESSION_USER_SQL = sessionUserSql();

/**
 * The user of a session's access token, in the one query each authenticated request makes: no
 * row once the session has ended, so its tokens are refused on the next request.
 */
export async function findUserInSession(id: number, sessionId: string, db: Queryable = getPool()): Promise<SignedInUser | null> {
  // Named: planned once per connection (both primary keys whatever the values).
  const { rows } = await db.query<SignedInUser>({ name: "session-user", text: SESSION_USER_SQL, values: [id, sessionId] });
  return rows[0] ?? null;
}

/**
 * Work that rides on the statement authenticating a request, so that a route whose work is one
 * statement costs no round trip of its own. `sql` reads at most one row, which comes back as JSON
 * (a date is its ISO text); `writes`, if any, are data-modifying CTEs run before it (PostgreSQL
 * allows them only at the top of a statement). Both may read the signed-in user as the CTE `u`
 * (its `id`), and take $1, the user's id, and $2 onwards, their keys in order. They run only
 * with a user whose token holds (its session live, its user not deleted and still of the name the
 * token was issued for): otherwise the lookup has no row, so a write reading FROM u writes nothing
 * and the read reads nothing, whatever the keys name.
 */
export interface UserRider<K extends readonly unknown[], R> {
  readonly name: string;
  /** Binds the keys; the caller checks they are values the SQL accepts (a UUID, an int4), as a bad parameter fails the whole statement. */
  with(...keys: K): StatementRide<R>;
}

/** A rider bound to its keys, handed to the user lookup: a statement of its own, or a place in a batch. */
export type Ride<R> = StatementRide<R> | BatchedRide<R>;

interface RideOf<R> {
  readonly keys: readonly unknown[];
  /** Never set: carries the type of the row the ride reads. */
  readonly row?: R;
}

export interface StatementRide<R> extends RideOf<R> {
  readonly statements: { byId: QueryTemplate; bySession: QueryTemplate };
  /** Set for a ride that reads rows (userRowsRide): what it read is every row, in the order read, as the array of its columns. */
  readonly rows?: true;
  /**
   * For a ride whose statement may fail by design (a refusal raised to roll its writes back): what
   * the ride read, as that error tells it, or undefined for an error that is not the ride's. The
   * statement failed as a whole, so the user is then looked up on its own.
   */
  readonly recover?: (error: unknown) => R | undefined;
}

/** A ride written together with the others of its kind that wait for the same statement (shared/data/batched-rides.ts). */
export interface BatchedRide<R> extends RideOf<R> {
  readonly batch: RideBatch<R>;
}

/** What a batched ride needs of the request it authenticates. */
export interface RideRequest {
  userId: number;
  /** Null for a token without a session (found by id). */
  sessionId: string | null;
  /** The name the token was issued for: the lookup holds the user to it. */
  username: string;
  keys: readonly unknown[];
}

export interface RideBatch<R> {
  run(request: RideRequest, db: Queryable): Promise<SignedInUserWith<R> | null>;
}

interface QueryTemplate {
  name: string;
  text: string;
}

/** A signed-in user and what the ride read (null: no row). */
export type SignedInUserWith<R> = SignedInUser & { ridden: R | null };

const parameterCount = (sql: string): number => Math.max(1, ...[...sql.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])));

// The user's lookup as the CTE `u`, the writes after it, and the read as a scalar subquery (NULL when no row).
const rideSql = (lookup: string, sql: string, writes: string | undefined) =>
  `WITH u AS (${lookup})${writes ? `, ${writes}` : ""}
   SELECT u.id, u.username, u.created_at, (SELECT row_to_json(r) FROM (${sql}) r) AS ridden FROM u`;

/**
 * A ride's two statements, the user found by id or by session, each `shape`d around that lookup.
 * After the ride's own parameters (those `ownSql` takes) come the name the token gives, then the
 * session's id. The name is checked in the statement, not only by the caller, so that nothing is
 * written for a token naming a user who no longer has that name. Named: planned once per
 * connection, as the lookups they extend.
 */
function rideStatements(name: string, ownSql: string, shape: (lookup: string) => string): StatementRide<unknown>["statements"] {
  const named = parameterCount(ownSql) + 1;
  const nameHolds = ` AND lower(u.username) = lower($${named}::text)`;
  return {
    byId: { name: `user-by-id+${name}`, text: shape(USER_BY_ID_SQL + nameHolds) },
    bySession: { name: `session-user+${name}`, text: shape(sessionUserSql(`$${named + 1}`) + nameHolds) },
  };
}

const riderNames = new Set<string>();

export function defineUserRider<K extends readonly unknown[], R>(name: string, sql: string, writes?: string): UserRider<K, R> {
  // A statement's name stands for one text on a connection.
  if (riderNames.has(name)) throw new Error(`A user rider named "${name}" is already defined`);
  riderNames.add(name);
  const statements = rideStatements(name, `${writes ?? ""} ${sql}`, (lookup) => rideSql(lookup, sql, writes));
  return { name, with: (...keys) => ({ statements, keys }) };
}

// A ride that reads rows: each row of `sql` after the user's columns, or the user's columns alone
// when `sql` reads none. The user's columns come with every row, so they are the cheapest to
// parse: the time as text (parsed once, from the first row), not a timestamp parsed on each. It
// is formatted once, in the user's row: OFFSET 0 keeps that row from being merged into the join,
// where PostgreSQL formatted it again for every row of the page.
const rowsRideSql = (lookup: string, sql: string) =>
  `WITH u AS (SELECT u.id, u.username, ${ISO("u.created_at")} AS created_at FROM (${lookup}) u OFFSET 0)
   SELECT u.id, u.username, u.created_at, r.* FROM u LEFT JOIN LATERAL (${sql}) r ON true`;
const RIDE_USER_FIELDS = 3;

const rowsRides = new Map<string, { sql: string; statements: StatementRide<unknown>["statements"] }>();

/**
 * A ride that reads rows (a page of a list), for `sql` as it stands, and its keys: `sql` takes $1,
 * the user's id, and its keys from $2, as a rider's does, and reads rows whose first column is
 * never null, each read as the array of its columns. It is named by the caller, after its text
 * (statementName): one name, one text, built once.
 */
export function userRowsRide<Row extends unknown[]>(name: string, sql: string, keys: readonly unknown[]): StatementRide<Row[]> {
  const built = rowsRides.get(name);
  if (built) {
    if (built.sql !== sql) throw new Error(`The ride "${name}" names another statement already`);
    return { statements: built.statements, keys, rows: true };
  }
  const statements = rideStatements(name, sql, (lookup) => rowsRideSql(lookup, sql));
  rowsRides.set(name, { sql, statements });
  return { statements, keys, rows: true };
}

/** The user, and what the ride read, from its statement's answer. */
async function readRide<R>(
  db: Queryable,
  ride: StatementRide<R>,
  query: QueryTemplate & { values: unknown[] },
): Promise<SignedInUserWith<R> | null> {
  if (!ride.rows) {
    const { rows } = await db.query<SignedInUserWith<R>>(query);
    return rows[0] ?? null;
  }
  // As arrays, of the ride's own columns: no object built for a row.
  const { rows } = await db.query<unknown[]>({ ...query, rowMode: "array" });
  const first = rows[0];
  if (!first) return null;
  const read: unknown[][] = [];
  for (const row of rows) if (row[RIDE_USER_FIELDS] !== null) read.push(row.slice(RIDE_USER_FIELDS));
  return { id: first[0] as number, username: first[1] as string, created_at: new Date(first[2] as string), ridden: read as R };
}

/** The ride's statement, or, when it failed in a way the ride recovers from, the user alone with what the failure told. */
async function rideOrRecover<R>(
  ride: StatementRide<R>,
  read: () => Promise<SignedInUserWith<R> | null>,
  alone: () => Promise<SignedInUser | null>,
): Promise<SignedInUserWith<R> | null> {
  try {
    return await read();
  } catch (error) {
    const recovered = ride.recover?.(error);
    if (recovered === undefined) throw error;
    const user = await alone();
    return user && { ...user, ridden: recovered };
  }
}

/** findUserById, with a ride in the same statement, for the user still named `username`. */
export async function findUserByIdWith<R>(
  id: number,
  username: string,
  ride: Ride<R>,
  db: Queryable = getPool(),
): Promise<SignedInUserWith<R> | null> {
  if ("batch" in ride) return ride.batch.run({ userId: id, sessionId: null, username, keys: ride.keys }, db);
  return rideOrRecover(
    ride,
    () => readRide(db, ride, { ...ride.statements.byId, values: [id, ...ride.keys, username] }),
    () => findUserById(id, db),
  );
}

/** findUserInSession, with a ride in the same statement, for the user still named `username`. */
export async function findUserInSessionWith<R>(
  id: number,
  sessionId: string,
  username: string,
  ride: Ride<R>,
  db: Queryable = getPool(),
): Promise<SignedInUserWith<R> | null> {
  if ("batch" in ride) return ride.batch.run({ userId: id, sessionId, username, keys: ride.keys }, db);
  return rideOrRecover(
    ride,
    () => readRide(db, ride, { ...ride.statements.bySession, values: [id, ...ride.keys, username, sessionId] }),
    () => findUserInSession(id, sessionId, db),
  );
}

/** Escapes LIKE wildcards so a search for "a_b" means exactly that prefix. */
const likePrefix = (q: string) => `${q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

export async function listOtherUsers(currentUserId: number, options: { q?: string; skip: number; limit: number }): Promise<UserPublicT[]> {
  const { rows } = await getPool().query<UserPublicT>(
    `SELECT id, username FROM users
      WHERE id <> $1 AND deleted_at IS NULL AND ($2::text IS NULL OR lower(username) LIKE $2)
      ORDER BY lower(username), id
      OFFSET $3 LIMIT $4`,
    [currentUserId, options.q ? likePrefix(options.q) : null, options.skip, options.limit],
  );
  return rows;
}
