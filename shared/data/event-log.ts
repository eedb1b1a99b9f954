/**
 * The per-user event log, a transactional outbox: every change writes its events here in its own
 * transaction, each numbered with its user's next `seq`, and they are pushed only after the commit
 * (shared/realtime/realtime.ts). The catch-up endpoint reads them back exactly as pushed.
 */
import { toFrame, type Frame, type RealtimeEvent, type UserEvent, type UserFrame } from "../domain/events";
import { getPool, type Queryable } from "./db";

// One statement: bump each user's counter (in user id order, so two changes that log to the same
// two users lock them in the same order) and insert the events numbered below the new counter.
// The counter row stays locked until commit, so a user's events are numbered in commit order, and
// clock_timestamp() (taken after the lock) keeps created_at in seq order for the retention sweep.
const LOG_EVENTS = `
  WITH input AS (
    SELECT e.user_id, e.payload, e.ord FROM unnest($1::int[], $2::json[]) WITH ORDINALITY AS e(user_id, payload, ord)
  ), bumped AS (
    INSERT INTO user_event_counters AS c (user_id, seq)
    SELECT user_id, count(*) FROM input GROUP BY user_id ORDER BY user_id
    ON CONFLICT (user_id) DO UPDATE SET seq = c.seq + excluded.seq
    RETURNING c.user_id, c.seq
  ), logged AS (
    INSERT INTO user_events (user_id, seq, created_at, payload)
    SELECT i.user_id, b.seq - count(*) OVER w + row_number() OVER (w ORDER BY i.ord), clock_timestamp(), i.payload
      FROM input i JOIN bumped b USING (user_id)
    WINDOW w AS (PARTITION BY i.user_id)
  )
  SELECT user_id, seq::text AS seq FROM bumped`;

/** Writes the events in the caller's transaction; returns them numbered, in the order given. */
export async function logEvents(tx: Queryable, events: readonly UserEvent[]): Promise<UserFrame[]> {
  if (events.length === 0) return [];
  const { rows } = await tx.query<{ user_id: number; seq: string }>(LOG_EVENTS, [
    events.map((e) => e.userId),
    events.map((e) => JSON.stringify(e.event)),
  ]);
  // The k-th of a user's n events here is numbered (new counter - n + k).
  const next = new Map<number, number>();
  const counts = new Map<number, number>();
  for (const { userId } of events) counts.set(userId, (counts.get(userId) ?? 0) + 1);
  for (const row of rows) next.set(row.user_id, Number(row.seq) - (counts.get(row.user_id) ?? 0) + 1);
  return events.map(({ userId, event }) => {
    const seq = next.get(userId) as number;
    next.set(userId, seq + 1);
    return { userId, frame: toFrame(event, seq) };
  });
}

/**
 * The values an event is written with before its statement knows them, each replaced there
 * (`fillPending`) by the value it stands for: only our own keys can match, since a quote inside any
 * string in the JSON is escaped.
 */
const PENDING = {
  unreadCount: { value: -1, field: '"unread_count":-1', key: '"unread_count":' },
  id: { value: -2, field: '"id":-2', key: '"id":' },
  timestamp: { value: "@pending", field: '"timestamp":"@pending"', key: '"timestamp":' },
  senderUsername: { value: "@pending", field: '"sender_username":"@pending"', key: '"sender_username":' },
} as const;

type PendingValues<T> = { id: T; timestamp: T; unreadCount: T; senderUsername: T };

/** The event as built with PENDING values (the message id, its time, an unread count, the sender's name), as JSON. */
export function pendingEvent(
  build: (pending: { id: number; timestamp: string; unreadCount: number; senderUsername: string }) => RealtimeEvent,
): string {
  const template = JSON.stringify(
    build({
      id: PENDING.id.value,
      timestamp: PENDING.timestamp.value,
      unreadCount: PENDING.unreadCount.value,
      senderUsername: PENDING.senderUsername.value,
    }),
  );
  for (const { field } of Object.values(PENDING))
    if (!template.includes(field)) throw new Error(`the event ${template.slice(0, 40)}... carries no ${field}`);
  return template;
}

/**
 * SQL: the JSON of `template` (pendingEvent's) with the given SQL values in place of the pending
 * ones (numbers for id and unreadCount, text for the others).
 */
export function fillPending(template: string, values: PendingValues<string>): string {
  const asJson: PendingValues<string> = {
    id: `(${values.id})::text`,
    unreadCount: `(${values.unreadCount})::text`,
    timestamp: `to_json((${values.timestamp})::text)::text`,
    senderUsername: `to_json((${values.senderUsername})::text)::text`,
  };
  let sql = template;
  for (const name of Object.keys(PENDING) as (keyof typeof PENDING)[])
    sql = `replace(${sql}, '${PENDING[name].field}', '${PENDING[name].key}' || ${asJson[name]})`;
  return `${sql}::json`;
}

/**
 * CTEs that log one event for each row of `source` (distinct user_id): `bumped` bumps each user's
 * counter in user id order (the same order as LOG_EVENTS, so the counter row stays locked until
 * commit and events are numbered in commit order), and `logged` writes the event, `payload` being
 * SQL over `n` (the source's row: its user_id and `columns`) and the tables of `join`. RETURNING of
 * bumped: user_id, seq. `sourceRowOf` gives the statement's answer the same `n` for a bumped row.
 */
export const logEachCtes = (source: string, columns: readonly string[], payload: string, join = "") => `
  event_sources AS (
    SELECT array_agg(user_id) AS user_ids, ${columns.map((c) => `array_agg(${c}) AS ${c}`).join(", ")} FROM ${source}
  ), bumped AS (
    INSERT INTO user_event_counters AS ec (user_id, seq) SELECT user_id, 1 FROM ${source} ORDER BY user_id
    ON CONFLICT (user_id) DO UPDATE SET seq = ec.seq + 1
    RETURNING ec.user_id, ec.seq
  ), logged AS (
    INSERT INTO user_events (user_id, seq, created_at, payload)
    SELECT b.user_id, b.seq, clock_timestamp(), ${payload} FROM bumped b ${sourceRowOf(columns, "b")} ${join}
  )`;

/**
 * `n`, the source's row of a row of bumped (alias `b`) in logEachCtes, found by its place in
 * event_sources' arrays. A join of bumped and the source compared every pair: PostgreSQL estimates
 * each CTE at a row or so, and for a send to 50 joined them in a nested loop of 2,500 comparisons.
 */
export const sourceRowOf = (columns: readonly string[], b: string) =>
  `CROSS JOIN LATERAL (SELECT ${columns.map((c) => `(s.${c})[array_position(s.user_ids, ${b}.user_id)] AS ${c}`).join(", ")} FROM event_sources s) n`;

export type EventsPage = { kind: "page"; events: Frame[]; latestSeq: number } | { kind: "gone"; latestSeq: number };

/**
 * The user's events after `after`, oldest first, at most `limit`. "gone" when some of them were
 * swept: the caller cannot be given a gap-free sequence. A page stops before any hole, so the next
 * request, which starts there, is the one that learns it.
 */
export async function readEvents(userId: number, after: number, limit: number): Promise<EventsPage> {
  // One statement, so the latest seq and the page come from the same snapshot.
  const { rows } = await getPool().query<{ latest: string; seq: string | null; payload: Record<string, unknown> | null }>(
    `SELECT c.seq::text AS latest, e.seq::text AS seq, e.payload
       FROM user_event_counters c
       LEFT JOIN LATERAL (SELECT seq, payload FROM user_events WHERE user_id = c.user_id AND seq > $2 ORDER BY seq LIMIT $3) e ON true
      WHERE c.user_id = $1
      ORDER BY e.seq`,
    [userId, after, limit],
  );
  const latestSeq = rows.length ? Number(rows[0].latest) : 0;
  const events: Frame[] = [];
  for (const row of rows) {
    if (row.seq === null) break;
    const seq = Number(row.seq);
    if (seq !== after + events.length + 1) break;
    events.push({ ...(row.payload as unknown as Frame), seq });
  }
  if (events.length === 0 && latestSeq > after) return { kind: "gone", latestSeq };
  return { kind: "page", events, latestSeq };
}

/** The unread count and the latest seq, read together: what a socket is told when it connects. */
export async function connectSnapshotOf(userId: number): Promise<{ unreadCount: number; latestSeq: number }> {
  const { rows } = await getPool().query<{ unread_count: number; seq: string | null }>(
    `SELECT coalesce(mc.unread, 0) AS unread_count, c.seq::text AS seq
       FROM users u LEFT JOIN user_event_counters c ON c.user_id = u.id
       LEFT JOIN mailbox_counters mc ON mc.user_id = u.id AND mc.folder = 'inbox'
      WHERE u.id = $1`,
    [userId],
  );
  return { unreadCount: rows[0]?.unread_count ?? 0, latestSeq: Number(rows[0]?.seq ?? 0) };
}

/** Deletes events logged before `before`, `batch` rows per statement (through the created_at index); returns how many. */
export async function sweepEvents(before: Date, batch: number, db: Queryable = getPool()): Promise<number> {
  let total = 0;
  for (;;) {
    const { rowCount } = await db.query(
      `DELETE FROM user_events e USING (SELECT user_id, seq FROM user_events WHERE created_at < $1 ORDER BY created_at LIMIT $2) d
        WHERE e.user_id = d.user_id AND e.seq = d.seq`,
      [before, batch],
    );
    total += rowCount ?? 0;
    if ((rowCount ?? 0) < batch) return total;
  }
}
