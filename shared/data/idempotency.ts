/**
 * `Idempotency-Key` on POST /messages/: a retried send gets the first answer instead of a second
 * message. The key is claimed with INSERT ... ON CONFLICT first in the send's transaction, so a
 * concurrent retry waits for its commit (then replays) or rollback (then does the work); an
 * expired key (24 hours) is replaced in place, so correctness never waits for the sweep timer. A
 * key keeps the request's digest and the message id, never the text; a replay reads the message
 * by id, and answers 410 once both parties have deleted it.
 */
import { createHash } from "node:crypto";

import { getPool, type Queryable } from "./db";

export const KEY_LIFETIME = "24 hours";
export const SWEEP_BATCH = 1000;
/** A run of the timer sweeps at most this many batches; the next run goes on. */
export const SWEEP_MAX_BATCHES = 100;

/** The statements, named so a test can check their plans use the indexes. */
export const KEY_SQL = {
  claim: `INSERT INTO idempotency_keys (sender_id, key, fingerprint) VALUES ($1, $2, $3)
    ON CONFLICT (sender_id, key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, message_id = NULL, created_at = now()
      WHERE idempotency_keys.created_at <= now() - $4::interval`,
  find: "SELECT fingerprint, message_id FROM idempotency_keys WHERE sender_id = $1 AND key = $2",
  record: "UPDATE idempotency_keys SET message_id = $3 WHERE sender_id = $1 AND key = $2",
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

export type Claim = { kind: "claimed" } | { kind: "replayed"; messageId: number } | { kind: "different_request" };

/**
 * Claims `key` for this sender inside the caller's transaction, or says why not (a replay names
 * the message the key sent). Must run before the message is stored, and the caller must record
 * the new message's id with `recordAnswer` before committing.
 */
export async function claimKey(tx: Queryable, senderId: number, key: string, requestFingerprint: string): Promise<Claim> {
  const claimed = await tx.query(KEY_SQL.claim, [senderId, key, requestFingerprint, KEY_LIFETIME]);
  if (claimed.rowCount === 1) return { kind: "claimed" };
  // A live key, committed by another request; the claim locked its row, so it cannot be swept now.
  const { rows } = await tx.query<{ fingerprint: string; message_id: number | null }>(KEY_SQL.find, [senderId, key]);
  const stored = rows[0];
  if (stored === undefined || stored.message_id === null) throw new Error("idempotency key row without an answer");
  if (stored.fingerprint !== requestFingerprint) return { kind: "different_request" };
  return { kind: "replayed", messageId: stored.message_id };
}

/** Records the message a replay of `key` will answer; in the transaction that claimed it. */
export async function recordAnswer(tx: Queryable, senderId: number, key: string, messageId: number): Promise<void> {
  await tx.query(KEY_SQL.record, [senderId, key, messageId]);
}

/** Deletes up to SWEEP_BATCH expired keys, oldest first; returns how many. */
export async function sweepExpiredKeys(db: Queryable = getPool()): Promise<number> {
  const { rowCount } = await db.query(KEY_SQL.sweep, [KEY_LIFETIME, SWEEP_BATCH]);
  return rowCount ?? 0;
}

/** Sweeps batch after batch until none is full (or SWEEP_MAX_BATCHES); returns how many keys went. */
export async function sweepAllExpiredKeys(db: Queryable = getPool(), maxBatches = SWEEP_MAX_BATCHES): Promise<number> {
  let swept = 0;
  for (let batch = 0; batch < maxBatches; batch++) {
    const deleted = await sweepExpiredKeys(db);
    swept += deleted;
    if (deleted < SWEEP_BATCH) break;
  }
  return swept;
}
