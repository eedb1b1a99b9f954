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
 * How keys expire: a key older than 24 hours counts as absent and is replaced in place by the
 * claim (ON CONFLICT DO UPDATE ... WHERE expired), so correctness never waits for cleanup.
 * Cleanup only bounds the table: a timer function (functions/idempotency-keys-sweep.ts) deletes
 * expired keys in batches, oldest first through the created_at index, skipping rows another
 * transaction holds.
 *
 * What a key keeps: the sender, the key, a digest of the request and the id of the message it
 * sent; never the text. A replay reads that message by id and answers it as the first request
 * did: a message is never edited, and its one changing field (is_read) was false in the first
 * answer. A message both parties have deleted is erased with its text, so its replay cannot
 * answer it: the key then answers 410 and still sends nothing again.
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
