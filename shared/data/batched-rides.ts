/**
 * Riders whose work is small next to a statement's own cost (an upload slot: two rows; a
 * download's viewer check: two reads by key), batched. Each request is still authenticated and
 * served by one statement, but the requests of one kind that wait while such a statement is in
 * flight share the next one (shared/data/coalescer.ts): the round trip, the executor's start, the
 * transaction and its commit are paid once for all of them.
 *
 * The statement looks each request's user up as a single ride does (by session, or by id for a
 * token without one, held to the name the token was issued for), as the rows of the CTE `u`: the
 * user's `id`, and the request's keys as columns named by the rider. Its writes may read `u` and
 * the statement's own values ($1 onwards, the same for every request of a batch). They must lock
 * rows in key order (say, `ORDER BY u.id`), since two batches at once hold several users' rows.
 * `sql` reads at most one row for the user in scope as `u`; a request whose user was not found
 * (or whose session has ended) gets null, and nothing is written for it.
 */
import { Coalescer } from "./coalescer";
import { getPool, type Queryable } from "./db";
import { isDatabaseUnavailable } from "./db-errors";
import { sessionUserSql, userByIdSql, type BatchedRide, type RideRequest, type SignedInUserWith } from "./users";

/** A key's column in `u`: its name and its SQL type. */
export type KeyColumn = readonly [name: string, type: string];

export interface BatchedRiderSpec {
  name: string;
  /** How many values the statement takes before the requests' arrays. */
  values: number;
  keys: readonly KeyColumn[];
  /** Data-modifying CTEs; a rider that writes gets at most one request of each user in a batch. */
  writes?: string;
  sql: string;
}

export interface BatchedUserRider<V extends readonly unknown[], K extends readonly unknown[], R> {
  with(values: V, ...keys: K): BatchedRide<R>;
}

// One statement in flight, as a group commit: everything that arrives meanwhile is the next batch.
// Two in flight halved the batches, and the gain of running them side by side did not make up for
// it (bench:attachments at 16 connections). A batch held up (say, by a lock) holds up the slots
// behind it up to the statement timeout.
const MAX_BATCH = 64;
const MAX_IN_FLIGHT = 1;

interface Waiting {
  request: RideRequest;
  values: readonly unknown[];
}

interface RiddenRow<R> {
  n: number;
  id: number;
  username: string;
  created_at: Date | null;
  ridden: R | null;
}

const REQUEST_COLUMNS: readonly KeyColumn[] = [
  ["user_id", "int"],
  ["session_id", "uuid"],
  ["token_name", "text"],
];

// Each array is read through a subquery, which hides its length from the planner: a custom plan
// (made for the values of each execution) would otherwise look cheaper for a small batch than the
// generic plan does, and PostgreSQL would plan the statement again for every batch, a cost several
// times the write's own. So the statement keeps one generic plan (test/api/batched-rides.test.ts).
function batchedRideSql(spec: BatchedRiderSpec): string {
  const columns = [...REQUEST_COLUMNS, ...spec.keys];
  const arrays = columns.map(([, type], i) => `(SELECT $${spec.values + 1 + i}::${type}[])`).join(", ");
  const keys = spec.keys.map(([name]) => `, r.${name}`).join("");
  return `WITH req AS (
      SELECT * FROM unnest(${arrays}) WITH ORDINALITY AS r (${columns.map(([name]) => name).join(", ")}, n)
    ), u AS (
      SELECT r.n::int AS n, f.id, f.username, f.created_at${keys} FROM req r
       CROSS JOIN LATERAL (${sessionUserSql("r.session_id", "r.user_id")} AND r.session_id IS NOT NULL
                 UNION ALL ${userByIdSql("r.user_id")} AND r.session_id IS NULL) f
       WHERE lower(f.username) = lower(r.token_name)
    )${spec.writes ? `, ${spec.writes}` : ""}
    SELECT u.n, u.id, u.username, u.created_at, (SELECT row_to_json(x) FROM (${spec.sql}) x) AS ridden FROM u`;
}

export function defineBatchedUserRider<V extends readonly unknown[], K extends readonly unknown[], R>(
  spec: BatchedRiderSpec,
): BatchedUserRider<V, K, R> {
  const statement = { name: `batched-ride+${spec.name}`, text: batchedRideSql(spec) };

  async function serve(batch: Waiting[], db: Queryable = getPool()): Promise<(SignedInUserWith<R> | null)[]> {
    const requests = batch.map((waiting) => waiting.request);
    const arrays = [
      requests.map((r) => r.userId),
      requests.map((r) => r.sessionId),
      requests.map((r) => r.username),
      ...spec.keys.map((_, k) => requests.map((r) => r.keys[k])),
    ];
    const { rows } = await db.query<RiddenRow<R>>({ ...statement, values: [...batch[0].values, ...arrays] });
    const found: (SignedInUserWith<R> | null)[] = batch.map(() => null);
    for (const { n, ...user } of rows) found[n - 1] = user;
    return found;
  }

  const coalescer = new Coalescer<Waiting, SignedInUserWith<R> | null>(serve, {
    maxBatch: MAX_BATCH,
    maxInFlight: MAX_IN_FLIGHT,
    // A user's row (say, a counter) is written at most once by a statement.
    keyOf: spec.writes ? (waiting) => waiting.request.userId : undefined,
    groupOf: (waiting) => JSON.stringify(waiting.values),
    retryAlone: (error) => !isDatabaseUnavailable(error),
  });

  return {
    with: (values, ...keys) => ({
      keys,
      batch: {
        // On a connection of the caller's own (a transaction), the request is served there, alone.
        run: (request, db) =>
          db === getPool() ? coalescer.run({ request, values }) : serve([{ request, values }], db).then(([found]) => found),
      },
    }),
  };
}
