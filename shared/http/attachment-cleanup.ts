/**
 * Deleting blobs nobody can reach any more: uploads never attached after a day, and the blobs
 * queued when their rows went (a message erased with its last copy, an account's pending
 * uploads). A blob is deleted after the commit that removed its row, and stays queued until the
 * delete succeeds, so a failed delete is retried by the next sweep and never strands a row.
 */
import { deleteUnattached, forgetBlobDeletions, queuedBlobDeletions } from "../data/attachments";
import { ATTACHMENTS_PER_MESSAGE } from "../domain/schemas";
import { getBlobStore } from "../storage/blob-store";

/** Uploads never attached are deleted after this long, by the sweep that runs this often. */
export const UNATTACHED_HOURS = 24;
export const SWEEP_EVERY_MINUTES = 5;
/** Rows deleted, and blobs deleted, per batch; a sweep runs a bounded number of batches. */
const BATCH = 500;
const BATCHES_PER_SWEEP = 20;
/** Blob deletes in flight at once. */
const PARALLEL_DELETES = 8;

export interface CleanupResult {
  uploadsExpired: number;
  blobsDeleted: number;
  blobDeletesFailed: number;
}

interface Logger {
  warn(...args: unknown[]): void;
}

/** Deletes queued blobs (up to a bounded number); those whose delete fails stay queued. */
export async function deleteQueuedBlobs(
  log?: Logger,
  { batch: size, batches } = { batch: BATCH, batches: BATCHES_PER_SWEEP },
): Promise<Pick<CleanupResult, "blobsDeleted" | "blobDeletesFailed">> {
  const result = { blobsDeleted: 0, blobDeletesFailed: 0 };
  for (let batch = 0; batch < batches; batch++) {
    const names = await queuedBlobDeletions(size);
    if (names.length === 0) break;
    const store = await getBlobStore();
    const deleted: string[] = [];
    for (let i = 0; i < names.length; i += PARALLEL_DELETES) {
      await Promise.all(
        names.slice(i, i + PARALLEL_DELETES).map((name) =>
          store.delete(name).then(
            () => deleted.push(name),
            (error: Error) => {
              result.blobDeletesFailed++;
              log?.warn(`deleting an attachment blob failed (kept for the next sweep): ${error.message}`);
            },
          ),
        ),
      );
    }
    await forgetBlobDeletions(deleted);
    result.blobsDeleted += deleted.length;
    // Whatever failed stays first in the queue: stop rather than retry it at once.
    if (deleted.length < names.length || names.length < size) break;
  }
  return result;
}

/** After a commit that may have removed attachment rows: a message's worth of blobs now, best effort (the sweep does the rest). */
export async function deleteQueuedBlobsAfterCommit(log: Logger): Promise<void> {
  await deleteQueuedBlobs(log, { batch: ATTACHMENTS_PER_MESSAGE, batches: 1 }).catch((error: Error) =>
    log.warn(`deleting attachment blobs deferred to the sweep: ${error.message}`),
  );
}

/** The sweep: expire old unattached uploads (their rows go, their blobs are queued), then delete the queued blobs. */
export async function sweepAttachments(log: Logger): Promise<CleanupResult> {
  let uploadsExpired = 0;
  for (let batch = 0; batch < BATCHES_PER_SWEEP; batch++) {
    const n = await deleteUnattached(UNATTACHED_HOURS, BATCH);
    uploadsExpired += n;
    if (n < BATCH) break;
  }
  return { uploadsExpired, ...(await deleteQueuedBlobs(log)) };
}
