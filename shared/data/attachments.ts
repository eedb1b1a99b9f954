/**
 * What the app knows of each attachment (the bytes are in Blob Storage, shared/storage): its
 * owner, its random blob name, the name and type the client declared, the declared size, and
 * the message it went out with. Deleting a row queues its blob for deletion (migration 18).
 */
import { randomBytes, randomUUID } from "node:crypto";

import { defineBatchedUserRider } from "./batched-rides";
import { getPool, inTransaction, type Queryable } from "./db";
import type { Ride } from "./users";

export interface Attachment {
  id: string;
  owner_id: number | null;
  blob_name: string;
  filename: string;
  content_type: string;
  size: number;
  created_at: Date;
  message_id: number | null;
}

/** What a message shows of each of its files. */
export interface AttachmentSummary {
  id: string;
  filename: string;
  content_type: string;
  size: number;
}

export interface NewUpload {
  filename: string;
  contentType: string;
  size: number;
}

export interface PendingLimits {
  pendingMax: number;
  pendingMaxBytes: number;
  /** How long an upload stays pending before the sweep deletes it. */
  unattachedHours: number;
}

/** Why a slot was refused, and when enough of the owner's pending uploads will have expired to make room. */
export interface SlotRefusal {
  kind: "too_many" | "too_many_bytes";
  expiresInSeconds: number;
}

const BLOB_NAME_BYTES = 24;
// Drawn from a pool, as node's randomUUID draws its ids: each randomBytes call is a system call,
// under load a measurable share of an upload slot's own work.
const BLOB_NAMES_PER_DRAW = 128;
let entropy = Buffer.alloc(0);
let drawn = 0;

/** Random, unrelated to the id and the filename: 192 bits, URL-safe, each name from its own bytes. */
export function newBlobName(): string {
  if (drawn + BLOB_NAME_BYTES > entropy.length) {
    entropy = randomBytes(BLOB_NAME_BYTES * BLOB_NAMES_PER_DRAW);
    drawn = 0;
  }
  drawn += BLOB_NAME_BYTES;
  return entropy.toString("base64url", drawn - BLOB_NAME_BYTES, drawn);
}

const COLUMNS = "id, owner_id, blob_name, filename, content_type, size::float8 AS size, created_at, message_id";

/** What an upload slot needs of the row it wrote. */
export type CreatedSlot = Pick<Attachment, "id" | "blob_name" | "content_type">;

// Values: $1 and $2 the limits (count and bytes). Keys: the attachment's id, its blob's name, filename, content type and size.
const uploadSlot = defineBatchedUserRider<
  [pendingMax: number, pendingMaxBytes: number],
  [string, string, string, string, number],
  CreatedSlot
>({
  name: "upload-slot",
  values: 2,
  keys: [
    ["slot_id", "uuid"],
    ["blob_name", "text"],
    ["filename", "text"],
    ["content_type", "text"],
    ["size", "bigint"],
  ],
  writes: `spent AS (
     INSERT INTO attachment_pending_counts AS c (owner_id, count, bytes)
     SELECT u.id, 1, u.size FROM u WHERE 1 <= $1::int AND u.size <= $2::bigint ORDER BY u.id
     ON CONFLICT (owner_id) DO UPDATE SET count = c.count + 1, bytes = c.bytes + excluded.bytes
      WHERE c.count < $1 AND c.bytes + excluded.bytes <= $2
     RETURNING owner_id),
   slot AS (
     INSERT INTO attachments (id, owner_id, blob_name, filename, content_type, size)
     SELECT u.slot_id, u.id, u.blob_name, u.filename, u.content_type, u.size FROM u JOIN spent ON spent.owner_id = u.id
     RETURNING id, owner_id, blob_name, content_type)`,
  sql: "SELECT id, blob_name, content_type FROM slot WHERE slot.owner_id = u.id",
});

/**
 * An upload slot, written in the statement that authenticates the request (with the slots of other
 * users asked for at the same time: shared/data/batched-rides.ts): a place in the owner's counter
 * (migration 21) and the row, unless the owner's uploads not yet attached would pass the limits
 * (then the ride reads no row; slotRefusal says why). The counter's WHERE is evaluated on its
 * locked, latest version, so two slots at once cannot both take the last place.
 */
export const newUploadSlot = (file: NewUpload, limits: PendingLimits): Ride<CreatedSlot> =>
  uploadSlot.with([limits.pendingMax, limits.pendingMaxBytes], randomUUID(), newBlobName(), file.filename, file.contentType, file.size);

/** Which limit refused the owner a slot for `size` bytes, and when the oldest pending uploads' expiry makes room. */
export async function slotRefusal(ownerId: number, size: number, limits: PendingLimits): Promise<SlotRefusal> {
  const db = getPool();
  const held = await db.query<{ n: number; bytes: number }>(
    "SELECT count AS n, bytes::float8 AS bytes FROM attachment_pending_counts WHERE owner_id = $1",
    [ownerId],
  );
  const { n, bytes } = held.rows[0] ?? { n: 0, bytes: 0 };
  if (n >= limits.pendingMax) {
    // The oldest pending upload is the first to expire, making room for one more.
    const expiresInSeconds = await secondsUntilFreed(db, ownerId, limits.unattachedHours, { slots: 1, bytes: 0 });
    return { kind: "too_many", expiresInSeconds };
  }
  const over = Math.max(0, bytes + size - limits.pendingMaxBytes);
  const expiresInSeconds = await secondsUntilFreed(db, ownerId, limits.unattachedHours, { slots: 0, bytes: over });
  return { kind: "too_many_bytes", expiresInSeconds };
}

/**
 * Takes back a slot whose URL could not be signed, leaving nothing of it: the row goes, and with
 * it (by the trigger of migration 21) its place in the counter; its blob, never written, comes
 * off the deletion queue the row's trigger (migration 18) put it on.
 */
export async function withdrawSlot(slot: Pick<Attachment, "id" | "blob_name">, ownerId: number): Promise<void> {
  await inTransaction(async (tx) => {
    const { rowCount } = await tx.query("DELETE FROM attachments WHERE id = $1 AND owner_id = $2 AND message_id IS NULL", [
      slot.id,
      ownerId,
    ]);
    if (rowCount) await tx.query("DELETE FROM attachment_blob_deletions WHERE blob_name = $1", [slot.blob_name]);
  });
}

/**
 * Seconds until the owner's oldest pending uploads, expiring in the order they were made, free
 * `slots` places and `bytes` bytes between them (capped at all of them).
 */
async function secondsUntilFreed(db: Queryable, ownerId: number, hours: number, need: { slots: number; bytes: number }): Promise<number> {
  const { rows } = await db.query<{ seconds: number }>(
    `SELECT greatest(0, ceil(extract(epoch FROM created_at + make_interval(hours => $2) - now())))::int AS seconds
       FROM (SELECT id, created_at, count(*) OVER w AS freed_slots, sum(size) OVER w AS freed_bytes, sum(size) OVER () AS held_bytes
               FROM attachments WHERE owner_id = $1 AND message_id IS NULL
             WINDOW w AS (ORDER BY created_at, id)) pending
      WHERE freed_slots >= $3 AND freed_bytes >= least($4, held_bytes)
      ORDER BY created_at, id
      LIMIT 1`,
    [ownerId, hours, need.slots, need.bytes],
  );
  return rows[0]?.seconds ?? 0;
}

/** The rows a send names, in no particular order (those that do not exist are absent). */
export async function attachmentsByIds(ids: string[], db: Queryable = getPool()): Promise<Attachment[]> {
  const { rows } = await db.query<Attachment>(`SELECT ${COLUMNS} FROM attachments WHERE id = ANY($1::uuid[])`, [ids]);
  return rows;
}

/**
 * In the send's transaction: the uploads become the message's, in the order listed, and the
 * message and its copies are marked as carrying files. False when one of them is no longer the
 * sender's pending upload (another send took it meanwhile): the caller rolls the send back.
 */
export async function attachToMessage(tx: Queryable, messageId: number, senderId: number, ids: string[]): Promise<boolean> {
  const { rowCount } = await tx.query(
    `UPDATE attachments a SET message_id = $1, position = x.ord
       FROM unnest($3::uuid[]) WITH ORDINALITY x(id, ord)
      WHERE a.id = x.id AND a.owner_id = $2 AND a.message_id IS NULL`,
    [messageId, senderId, ids],
  );
  if (rowCount !== ids.length) return false;
  await tx.query("UPDATE messages SET attachment_count = $2 WHERE id = $1", [messageId, ids.length]);
  await tx.query("UPDATE message_copies SET has_attachments = true WHERE message_id = $1", [messageId]);
  return true;
}

/** What a message shows of its files, in the order the sender listed them. */
export async function attachmentsOf(messageId: number): Promise<AttachmentSummary[]> {
  const { rows } = await getPool().query<AttachmentSummary>(
    "SELECT id, filename, content_type, size::float8 AS size FROM attachments WHERE message_id = $1 ORDER BY position",
    [messageId],
  );
  return rows;
}

type ViewedAttachment = Pick<Attachment, "blob_name" | "filename" | "content_type">;

/**
 * An attachment of a message of which the signed-in user holds a copy, read with the user's own
 * lookup, with the other downloads asked for at the same time (keys: the message's id, an int4,
 * and the attachment's, a UUID).
 */
const viewedAttachment = defineBatchedUserRider<[], [messageId: number, attachmentId: string], ViewedAttachment>({
  name: "attachment-for-viewer",
  values: 0,
  keys: [
    ["message_id", "int"],
    ["attachment_id", "uuid"],
  ],
  sql: `SELECT a.blob_name, a.filename, a.content_type FROM attachments a
         WHERE a.id = u.attachment_id AND a.message_id = u.message_id
           AND EXISTS (SELECT 1 FROM message_copies c WHERE c.user_id = u.id AND c.message_id = u.message_id)`,
});

export const attachmentForViewer = (messageId: number, attachmentId: string): Ride<ViewedAttachment> =>
  viewedAttachment.with([], messageId, attachmentId);

/** Uploads never attached and older than `hours`, or whose owner's account is gone: their rows go, their blobs are queued. */
export async function deleteUnattached(hours: number, batch: number, db: Queryable = getPool()): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM attachments WHERE id IN (
       SELECT id FROM attachments
        WHERE message_id IS NULL
          AND (created_at < now() - make_interval(hours => $1) OR owner_id IS NULL
               OR EXISTS (SELECT 1 FROM users u WHERE u.id = owner_id AND u.deleted_at IS NOT NULL))
        LIMIT $2)`,
    [hours, batch],
  );
  return rowCount ?? 0;
}

/** Blobs whose rows are gone, oldest first. */
export async function queuedBlobDeletions(batch: number, db: Queryable = getPool()): Promise<string[]> {
  const { rows } = await db.query<{ blob_name: string }>("SELECT blob_name FROM attachment_blob_deletions ORDER BY queued_at LIMIT $1", [
    batch,
  ]);
  return rows.map((r) => r.blob_name);
}

/** Blobs deleted from storage: no longer queued. */
export async function forgetBlobDeletions(blobNames: string[], db: Queryable = getPool()): Promise<void> {
  if (blobNames.length === 0) return;
  await db.query("DELETE FROM attachment_blob_deletions WHERE blob_name = ANY($1)", [blobNames]);
}
