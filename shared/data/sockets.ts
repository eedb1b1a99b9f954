/**
 * What the app knows of Web PubSub's sockets: the open connections of each user (from the
 * service's connected and disconnected events) and the token expiries whose sockets are still
 * to be closed (recorded at negotiation). Web PubSub checks a token only at the handshake, so
 * the app enforces both the per-user socket cap and the token's lifetime itself.
 */
import { getPool, inTransaction, type Queryable } from "./db";

// The first key of the advisory lock that serialises one user's connects (the second is the user id).
const CONNECT_LOCK = 17_001;

/**
 * Records an open connection, unless the user already holds `max`: then nothing is recorded and
 * the caller closes it. Connects of one user are serialised, so two at once cannot both take the last place.
 */
export async function recordConnection(connectionId: string, userId: number, max: number): Promise<"recorded" | "over_limit"> {
  return inTransaction(async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock($1, $2)", [CONNECT_LOCK, userId]);
    const { rows } = await tx.query<{ known: boolean; n: number }>(
      `SELECT EXISTS (SELECT 1 FROM socket_connections WHERE connection_id = $1) AS known,
              (SELECT count(*)::int FROM socket_connections WHERE user_id = $2) AS n`,
      [connectionId, userId],
    );
    // A connection the service reports twice (a resumed session) keeps its place.
    if (rows[0].known) return "recorded";
    if (rows[0].n >= max) return "over_limit";
    await tx.query("INSERT INTO socket_connections (connection_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING", [
      connectionId,
      userId,
    ]);
    return "recorded";
  });
}

export async function forgetConnection(connectionId: string): Promise<void> {
  await getPool().query("DELETE FROM socket_connections WHERE connection_id = $1", [connectionId]);
}

/** The connection ids recorded for a user. */
export async function connectionsOf(userId: number): Promise<string[]> {
  const { rows } = await getPool().query<{ connection_id: string }>("SELECT connection_id FROM socket_connections WHERE user_id = $1", [
    userId,
  ]);
  return rows.map((r) => r.connection_id);
}

export async function openConnectionCount(userId: number): Promise<number> {
  const { rows } = await getPool().query<{ n: number }>("SELECT count(*)::int AS n FROM socket_connections WHERE user_id = $1", [userId]);
  return rows[0].n;
}

/**
 * Forgets connections recorded before `before`: their tokens have expired and the sweep closed
 * them, so a row still there lost its disconnected event (the app was down) and must not hold a place.
 */
export async function forgetStaleConnections(before: Date, db: Queryable = getPool()): Promise<number> {
  const { rowCount } = await db.query("DELETE FROM socket_connections WHERE connected_at < $1", [before]);
  return rowCount ?? 0;
}

/** Remembers that sockets whose token expires at `expiresAt` must be closed then. */
export async function recordTokenExpiry(expiresAt: Date): Promise<void> {
  await getPool().query("INSERT INTO socket_expiries (expires_at) VALUES ($1) ON CONFLICT DO NOTHING", [expiresAt]);
}

/** Expiries that have passed, oldest first. */
export async function dueTokenExpiries(now: Date, limit: number): Promise<Date[]> {
  const { rows } = await getPool().query<{ expires_at: Date }>(
    "SELECT expires_at FROM socket_expiries WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2",
    [now, limit],
  );
  return rows.map((r) => r.expires_at);
}

export async function forgetTokenExpiry(expiresAt: Date): Promise<void> {
  await getPool().query("DELETE FROM socket_expiries WHERE expires_at = $1", [expiresAt]);
}
