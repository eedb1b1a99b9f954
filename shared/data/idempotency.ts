/**
 * `Idempotency-Key` on POST /messages/: a retry of a send whose answer was lost gets that
 * answer again instead of sending the message twice.
 *
 * How the race is closed: the key is claimed with INSERT ... ON CONFLICT as the first
 * statement of the transaction that stores the message. A second request with the same key
 * blocks on the unique index until the first commits (then replays its answer) or rolls
 * back (then claims the key itself and does the work). A failed send leaves no trace, so
 * its retry runs again instead of replaying an error.
 *
 * How keys expire without scanning the table: a key older than 24 hours counts as absent
 * and is replaced in place by the claim (ON CONFLICT DO UPDATE ... WHERE expired), so
 * correctness never waits for cleanup. Cleanup only bounds the table: after its commit,
 * each new key sweeps at most SWEEP_BATCH expired ones, oldest first through the created_at
 * index, skipping rows another transaction holds. One insert, up to SWEEP_BATCH deletes:
 * the table stays near the last 24 hours of keys, and a failed sweep never fails a send.
 *
 * What a replay answers: the original response, as Stripe does, not the message's state now
 * (it may have been read since). The response is stored with the key, so a replay is one
 * primary-key read and stays exact even if the message later changes or goes away.
 */
import { createHash } from "node:crypto";
import { getPool, type Queryable } from "./db";
import type { MessageT } from "../http/schemas";

export const KEY_LIFETIME = "24 hours";
export const SWEEP_BATCH = 100;

/** The statements, named so a test can check their plans use the indexes. */
export const KEY_SQL = {
  claim: `INSERT INTO idempotency_keys (sender_id, key, fingerprint) VALUES ($1, $2, $3)
    ON CONFLICT (sender_id, key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, response = NULL, created_at = now()
      WHERE idempotency_keys.created_at <= now() - $4::interval`,
  find: "SELECT fingerprint, response FROM idempotency_keys WHERE sender_id = $1 AND key = $2",
  record: "UPDATE idempotency_keys SET response = $3 WHERE sender_id = $1 AND key = $2",
  // By row address (a TID scan), so the delete itself never joins against the whole table.
  sweep: `DELETE FROM idempotency_keys WHERE ctid = ANY (ARRAY(
      SELECT ctid FROM idempotency_keys WHERE created_at <= now() - $1::interval
       ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED))`,
} as const;

/**
 * What the request asked for, after validation (trimmed title, recipient_id as a number),
 * so `"2"` and `2` are the same request. Keys are sorted: a field moved in the schema does
 * not change the fingerprint of a key in flight.
 */
export function fingerprint(input: Readonly<Record<string, unknown>>): string {
  // An optional field left out and the same field sent as null ask for the same thing.
  const named = Object.keys(input).filter((name) => input[name] !== undefined && input[name] !== null);
  const canonical = JSON.stringify(named.sort().map((name) => [name, input[name]]));
  return createHash("sha256").update(canonical).digest("hex");
}

export type Claim = { kind: "claimed" } | { kind: "replayed"; message: MessageT } | { kind: "different_request" };

/**
 * Claims `key` for this sender inside the caller's transaction, or says why not. Must run
 * before the message is stored, and the caller must store the answer with `recordAnswer`
 * before committing.
 */
export async function claimKey(tx: Queryable, senderId: number, key: string, requestFingerprint: string): Promise<Claim> {
  const claimed = await tx.query(KEY_SQL.claim, [senderId, key, requestFingerprint, KEY_LIFETIME]);
  if (claimed.rowCount === 1) return { kind: "claimed" };
  // A live key, committed by another request; the claim locked its row, so it cannot be swept now.
  const { rows } = await tx.query<{ fingerprint: string; response: MessageT | null }>(KEY_SQL.find, [senderId, key]);
  const stored = rows[0];
  if (!stored?.response) throw new Error("idempotency key row without an answer");
  if (stored.fingerprint !== requestFingerprint) return { kind: "different_request" };
  return { kind: "replayed", message: stored.response };
}

/** Stores the answer a replay of `key` will get; in the transaction that claimed it. */
export async function recordAnswer(tx: Queryable, senderId: number, key: string, message: MessageT): Promise<void> {
  await tx.query(KEY_SQL.record, [senderId, key, JSON.stringify(message)]);
}

/** Deletes up to SWEEP_BATCH expired keys, oldest first; returns how many. */
export async function sweepExpiredKeys(db: Queryable = getPool()): Promise<number> {
  const { rowCount } = await db.query(KEY_SQL.sweep, [KEY_LIFETIME, SWEEP_BATCH]);
  return rowCount ?? 0;
}
