/**
 * Sessions (one per login) and their refresh tokens, stored as digests only (shared/auth/refresh-tokens.ts).
 * Every statement that spends or ends something is one round trip, so two requests racing on
 * the same token or session see one winner.
 */
import type { UserPublicT } from "../domain/schemas";
import { getPool, inTransaction, type Queryable } from "./db";

export interface SessionRow {
  id: string;
  created_at: Date;
  last_used_at: Date;
  user_agent: string | null;
}

export type RotateOutcome =
  | { kind: "rotated"; sessionId: string; user: UserPublicT }
  /** The token was spent before: its session has been ended (reuse detection). */
  | { kind: "reused"; sessionId: string; userId: number }
  /** Its session was idle too long (now ended), or was ended before. */
  | { kind: "expired"; sessionId: string; userId: number }
  | { kind: "unknown" };

export const SESSION_SQL = {
  start: `WITH s AS (INSERT INTO sessions (user_id, user_agent) VALUES ($1, $2) RETURNING id)
    INSERT INTO refresh_tokens (token_hash, session_id) SELECT $3, id FROM s RETURNING session_id`,
  // Spends the token only if unspent and its session is not idle; the session's use is recorded.
  spend: `WITH spent AS (
      UPDATE refresh_tokens t SET spent_at = now()
        FROM sessions s
       WHERE t.token_hash = $1 AND t.spent_at IS NULL AND s.id = t.session_id
         AND s.last_used_at > now() - make_interval(days => $2) AND ($3::int IS NULL OR s.user_id = $3)
      RETURNING t.session_id
    ), used AS (
      UPDATE sessions s SET last_used_at = now() FROM spent WHERE s.id = spent.session_id RETURNING s.id, s.user_id
    )
    SELECT used.id AS session_id, u.id, u.username FROM used JOIN users u ON u.id = used.user_id`,
  issue: "INSERT INTO refresh_tokens (token_hash, session_id) VALUES ($1, $2)",
  // Why a token could not be spent: it is unknown, spent before, or its session is idle.
  inspect: `SELECT t.session_id, t.spent_at IS NOT NULL AS spent, s.user_id
    FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id WHERE t.token_hash = $1`,
  end: "DELETE FROM sessions WHERE id = $1 RETURNING id",
  endOwn: "DELETE FROM sessions WHERE id = $1 AND user_id = $2 RETURNING id",
  endAll: "DELETE FROM sessions WHERE user_id = $1 RETURNING id",
  endOthers: "DELETE FROM sessions WHERE user_id = $1 AND id <> $2 RETURNING id",
  list: `SELECT id, created_at, last_used_at, user_agent FROM sessions
    WHERE user_id = $1 AND last_used_at > now() - make_interval(days => $2) ORDER BY last_used_at DESC, id`,
  sweepIdle: `DELETE FROM sessions WHERE id IN (
      SELECT id FROM sessions WHERE last_used_at <= now() - make_interval(days => $1) ORDER BY last_used_at LIMIT $2)
    RETURNING id`,
} as const;

/** Starts a session for `userId` holding its first refresh token; returns the session id. */
export async function startSession(
  userId: number,
  userAgent: string | null,
  refreshHash: Buffer,
  db: Queryable = getPool(),
): Promise<string> {
  const { rows } = await db.query<{ session_id: string }>(SESSION_SQL.start, [userId, userAgent, refreshHash]);
  return rows[0].session_id;
}

/**
 * Spends a refresh token and stores its successor, in one transaction. A spent token presented
 * again ends its session, as does one whose session was idle `idleDays`. A token of another user
 * than `expectedUserId` (when given) is refused and left as it was.
 */
export async function rotateRefreshToken(
  presented: Buffer,
  successor: Buffer,
  idleDays: number,
  expectedUserId: number | null = null,
): Promise<RotateOutcome> {
  const outcome = await inTransaction(async (tx): Promise<RotateOutcome> => {
    const { rows } = await tx.query<{ session_id: string; id: number; username: string }>(SESSION_SQL.spend, [
      presented,
      idleDays,
      expectedUserId,
    ]);
    if (rows[0]) {
      await tx.query(SESSION_SQL.issue, [successor, rows[0].session_id]);
      return { kind: "rotated", sessionId: rows[0].session_id, user: { id: rows[0].id, username: rows[0].username } };
    }
    const found = await tx.query<{ session_id: string; spent: boolean; user_id: number }>(SESSION_SQL.inspect, [presented]);
    const token = found.rows[0];
    if (!token || (expectedUserId !== null && token.user_id !== expectedUserId)) return { kind: "unknown" };
    await tx.query(SESSION_SQL.end, [token.session_id]);
    return { kind: token.spent ? "reused" : "expired", sessionId: token.session_id, userId: token.user_id };
  });
  return outcome;
}

/** Ends one of the user's sessions; false when the user has no such session. */
export async function endSession(userId: number, sessionId: string): Promise<boolean> {
  const { rowCount } = await getPool().query(SESSION_SQL.endOwn, [sessionId, userId]);
  return (rowCount ?? 0) > 0;
}

/** Ends every session of the user; returns their ids (so their sockets can be closed). */
export async function endAllSessions(userId: number, db: Queryable = getPool()): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(SESSION_SQL.endAll, [userId]);
  return rows.map((r) => r.id);
}

/** Ends every session of the user but `keep`; returns their ids. */
export async function endOtherSessions(userId: number, keep: string | null, db: Queryable = getPool()): Promise<string[]> {
  if (keep === null) return endAllSessions(userId, db);
  const { rows } = await db.query<{ id: string }>(SESSION_SQL.endOthers, [userId, keep]);
  return rows.map((r) => r.id);
}

export async function listSessions(userId: number, idleDays: number): Promise<SessionRow[]> {
  const { rows } = await getPool().query<SessionRow>(SESSION_SQL.list, [userId, idleDays]);
  return rows;
}

/** Deletes up to `batch` sessions idle for `idleDays`; returns their ids. */
export async function sweepIdleSessions(idleDays: number, batch: number): Promise<string[]> {
  const { rows } = await getPool().query<{ id: string }>(SESSION_SQL.sweepIdle, [idleDays, batch]);
  return rows.map((r) => r.id);
}

/**
 * Spends every unspent refresh token of the session and stores `successor` as its one live token;
 * false (nothing stored) when the session has ended.
 */
export async function reissueRefreshToken(sessionId: string, successor: Buffer, db: Queryable = getPool()): Promise<boolean> {
  const { rowCount } = await db.query(
    `WITH spent AS (UPDATE refresh_tokens SET spent_at = now() WHERE session_id = $2 AND spent_at IS NULL)
     INSERT INTO refresh_tokens (token_hash, session_id) SELECT $1, id FROM sessions WHERE id = $2`,
    [successor, sessionId],
  );
  return (rowCount ?? 0) > 0;
}
