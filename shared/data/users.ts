import { isUniqueViolation } from "./db-errors";
import { getPool, type Queryable } from "./db";
import type { UserPublicT } from "../http/schemas";

export interface UserRecord extends UserPublicT {
  hashed_password: string;
}

export class UsernameTakenError extends Error {}

export async function createUser(username: string, hashedPassword: string): Promise<UserPublicT> {
  try {
    const { rows } = await getPool().query<UserPublicT>(
      "INSERT INTO users (username, hashed_password) VALUES ($1, $2) RETURNING id, username",
      [username, hashedPassword],
    );
    return rows[0];
  } catch (error) {
    if (isUniqueViolation(error)) throw new UsernameTakenError();
    throw error;
  }
}

/** Case-insensitive, as usernames are unique regardless of case. */
export async function findUserByUsername(username: string): Promise<UserRecord | null> {
  const { rows } = await getPool().query<UserRecord>("SELECT id, username, hashed_password FROM users WHERE lower(username) = lower($1)", [username]);
  return rows[0] ?? null;
}

export async function findUserById(id: number, db: Queryable = getPool()): Promise<UserPublicT | null> {
  const { rows } = await db.query<UserPublicT>("SELECT id, username FROM users WHERE id = $1", [id]);
  return rows[0] ?? null;
}

/** Escapes LIKE wildcards so a search for "a_b" means exactly that prefix. */
const likePrefix = (q: string) => `${q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

export async function listOtherUsers(
  currentUserId: number,
  options: { q?: string; skip: number; limit: number },
): Promise<UserPublicT[]> {
  const { rows } = await getPool().query<UserPublicT>(
    `SELECT id, username FROM users
      WHERE id <> $1 AND ($2::text IS NULL OR lower(username) LIKE $2)
      ORDER BY lower(username), id
      OFFSET $3 LIMIT $4`,
    [currentUserId, options.q ? likePrefix(options.q) : null, options.skip, options.limit],
  );
  return rows;
}
