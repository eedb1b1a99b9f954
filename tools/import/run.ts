/**
 * The import, start to end: users first (in id order, so the earliest keeps a contested name),
 * then messages, each batch in its own transaction together with the record of what each row
 * became. A rerun skips recorded rows, so it changes nothing after a complete run and finishes
 * a killed one. A dry run does the same inside one transaction it rolls back.
 */
import { randomBytes } from "node:crypto";
import bcrypt from "bcryptjs";
import type { Pool, PoolClient } from "pg";

import type { OriginalSource } from "./original";
import { buildReport, type ImportReport, type RunCounts } from "./report";
import { writeMessages, writeUsers, type IdSequences, type WriteContext } from "./writer";

// Any fixed number, other than the migrator's: two imports at once would race for the same rows.
const IMPORT_LOCK_KEY = 727_011;
const LOCKED_HASH_COST = 12;

export interface Progress {
  phase: "users" | "messages";
  done: number;
  total: number;
  rowsPerSecond: number;
}

export interface ImportOptions {
  dryRun?: boolean;
  batchSize?: number;
  onProgress?: (progress: Progress) => void;
}

export class ImportBusyError extends Error {
  constructor() {
    super("another import into this database is running");
  }
}

/** "2024-04-27T12:34:56.789": the naive UTC form the original stores. */
const naiveUtc = (d: Date) => d.toISOString().replace("Z", "");

/** Moves each table's id sequence past the original's ids, so the app's new rows never take one. */
async function realSequences(db: PoolClient, maxUserId: number, maxMessageId: number): Promise<IdSequences> {
  const names: IdSequences = { users: "", messages: "" };
  for (const [table, max] of [
    ["users", maxUserId],
    ["messages", maxMessageId],
  ] as const) {
    const { rows } = await db.query<{ seq: string }>("SELECT pg_get_serial_sequence($1, 'id') AS seq", [table]);
    names[table] = rows[0].seq;
    await db.query("SELECT setval($1::regclass, $2) WHERE $2 > coalesce(pg_sequence_last_value($1::regclass), 0)", [rows[0].seq, max]);
  }
  return names;
}

/** Temporary sequences that start where the real ones would be: a dry run must not move those. */
async function drySequences(db: PoolClient, maxUserId: number, maxMessageId: number): Promise<IdSequences> {
  for (const [table, max] of [
    ["users", maxUserId],
    ["messages", maxMessageId],
  ] as const) {
    await db.query(`CREATE TEMP SEQUENCE import_dry_${table}_id`);
    await db.query(
      `SELECT setval('pg_temp.import_dry_${table}_id', greatest($1::int, (SELECT coalesce(max(id), 0) FROM ${table}),
         coalesce(pg_sequence_last_value(pg_get_serial_sequence('${table}', 'id')::regclass), 0), 1))`,
      [max],
    );
  }
  return { users: "pg_temp.import_dry_users_id", messages: "pg_temp.import_dry_messages_id" };
}

function lockedHashOnce(): () => Promise<string> {
  let hash: Promise<string> | undefined;
  return () => (hash ??= bcrypt.hash(randomBytes(32).toString("base64"), LOCKED_HASH_COST));
}

export async function importOriginal(pool: Pool, source: OriginalSource, options: ImportOptions = {}): Promise<ImportReport> {
  const { dryRun = false, batchSize = 2_000, onProgress } = options;
  const startedAt = new Date();
  const totals = await source.totals();
  const db = await pool.connect();
  try {
    const { rows } = await db.query<{ locked: boolean }>("SELECT pg_try_advisory_lock($1) AS locked", [IMPORT_LOCK_KEY]);
    if (!rows[0].locked) throw new ImportBusyError();
    try {
      if (dryRun) await db.query("BEGIN");
      const sequences = dryRun
        ? await drySequences(db, totals.maxUserId, totals.maxMessageId)
        : await realSequences(db, totals.maxUserId, totals.maxMessageId);
      const ctx: WriteContext = { sequences, lockedHash: lockedHashOnce(), startedAt: naiveUtc(startedAt), lockRegistrations: !dryRun };
      const batch = async <T>(work: () => Promise<T>): Promise<T> => {
        if (dryRun) return work();
        await db.query("BEGIN");
        try {
          const result = await work();
          await db.query("COMMIT");
          return result;
        } catch (error) {
          await db.query("ROLLBACK").catch(() => {});
          throw error;
        }
      };
      const counts: RunCounts = { users: { written: 0, alreadyDone: 0 }, messages: { written: 0, skipped: 0, alreadyDone: 0 } };
      const progress = (phase: Progress["phase"], done: number, total: number, since: number) =>
        onProgress?.({ phase, done, total, rowsPerSecond: done / Math.max((Date.now() - since) / 1000, 0.001) });

      let since = Date.now();
      let done = 0;
      for await (const users of source.users(batchSize)) {
        const outcome = await batch(() => writeUsers(db, users, ctx));
        counts.users.written += outcome.written;
        counts.users.alreadyDone += outcome.alreadyDone;
        progress("users", (done += users.length), totals.users, since);
      }
      since = Date.now();
      done = 0;
      for await (const messages of source.messages(batchSize)) {
        const outcome = await batch(() => writeMessages(db, messages, ctx));
        counts.messages.written += outcome.written;
        counts.messages.skipped += outcome.skipped;
        counts.messages.alreadyDone += outcome.alreadyDone;
        progress("messages", (done += messages.length), totals.messages, since);
      }
      const report = await buildReport(db, { source: source.description, dryRun, startedAt, totals, counts });
      if (dryRun) await db.query("ROLLBACK");
      return report;
    } catch (error) {
      if (dryRun) await db.query("ROLLBACK").catch(() => {});
      throw error;
    } finally {
      await db.query("SELECT pg_advisory_unlock($1)", [IMPORT_LOCK_KEY]).catch(() => {});
    }
  } finally {
    db.release();
  }
}
