/**
 * What the app knows of each attachment (the bytes are in Blob Storage, shared/storage): its
 * owner, its random blob name, the name and type the client declared, the declared size, and
 * the message it went out with. Deleting a row queues its blob for deletion (migration 18).
 */
import { randomBytes, randomUUID } from "node:crypto";

import { getPool, inTransaction, type Queryable } from "./db";

// The first key of the advisory lock that serialises one user's new uploads (the second is the user id).
const UPLOAD_LOCK = 18_001;

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

export interface NewAttachment {
  blobName: string;
  filename: string;
  contentType: string;
  size: number;
}

export interface PendingLimits {
  pendingMax: number;
  pendingMaxBytes: number;
}

export type CreateResult = { kind: "created"; attachment: Attachment } | { kind: "too_many" } | { kind: "too_many_bytes" };

/** Random, unrelated to the id and the filename: 192 bits, URL-safe. */
export const newBlobName = (): string => randomBytes(24).toString("base64url");

const COLUMNS = "id, owner_id, blob_name, filename, content_type, size::float8 AS size, created_at, message_id";

/**
 * Records an upload slot, unless the owner's uploads not yet attached would pass the limits.
 * One user's slots are serialised, so two at once cannot both take the last place.
 */
export async function createAttachment(ownerId: number, file: NewAttachment, limits: PendingLimits): Promise<CreateResult> {
  return inTransaction(async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock($1, $2)", [UPLOAD_LOCK, ownerId]);
    const { rows } = await tx.query<{ n: number; bytes: number }>(
      "SELECT count(*)::int AS n, coalesce(sum(size), 0)::float8 AS bytes FROM attachments WHERE owner_id = $1 AND message_id IS NULL",
      [ownerId],
    );
    if (rows[0].n >= limits.pendingMax) return { kind: "too_many" };
    if (rows[0].bytes + file.size > limits.pendingMaxBytes) return { kind: "too_many_bytes" };
    const inserted = await tx.query<Attachment>(
      `INSERT INTO attachments (id, owner_id, blob_name, filename, content_type, size) VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${COLUMNS}`,
      [randomUUID(), ownerId, file.blobName, file.filename, file.contentType, file.size],
    );
    return { kind: "created", attachment: inserted.rows[0] };
  });
}

/** Uploads never attached and older than `hours`, or whose owner's account is gone: their rows go, their blobs are queued. */
export async function deleteUnattached(hours: number, batch: number, db: Queryable = getPool()): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM attachments WHERE id IN (
       SELECT id FROM attachments
        WHERE message_id IS NULL AND (created_at < now() - make_interval(hours => $1) OR owner_id IS NULL)
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
