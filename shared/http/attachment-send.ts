/**
 * What a send checks of the attachments it names, before anything is stored: each is the
 * sender's own upload, not yet attached, within the message's limits, and complete at its
 * declared size as Blob Storage reports it. A checked blob is leased for the message, so the
 * upload URL (valid for minutes more) can no longer replace it; a send that fails afterwards
 * releases the leases. Any failure is a 422 naming the attachment, or a 503 when storage does
 * not answer, and nothing is stored.
 */
import type { AttachmentSettings } from "../config/config";
import { attachmentsByIds } from "../data/attachments";
import { getBlobStore, type BlobStore, type Claim } from "../storage/blob-store";
import { validationError, type ValidationIssue } from "./http";

export interface ClaimedAttachments {
  ids: string[];
  /** All already went out with one message: only an idempotent replay of that send may name them. */
  replayOnly: boolean;
  /** Gives the blobs back to their upload URLs: the send did not happen. */
  release(): Promise<void>;
}

const issue = (index: number | null, msg: string, input?: string): ValidationIssue => ({
  type: "value_error",
  loc: index === null ? ["body", "attachments"] : ["body", "attachments", index],
  msg: `Value error, ${msg}`,
  ...(input === undefined ? {} : { input }),
});

async function releaseAll(store: BlobStore, leases: { blob: string; leaseId: string }[]): Promise<void> {
  await Promise.all(leases.map((l) => store.release(l.blob, l.leaseId).catch(() => {})));
}

export async function claimAttachments(
  senderId: number,
  ids: string[],
  limits: AttachmentSettings,
  options: { idempotent: boolean },
): Promise<ClaimedAttachments> {
  if (ids.length === 0) return { ids, replayOnly: false, release: async () => {} };
  const rows = new Map((await attachmentsByIds(ids)).map((row) => [row.id, row]));
  const sentWith = new Set(ids.map((id) => rows.get(id)).map((row) => (row?.owner_id === senderId ? row.message_id : undefined)));
  // A retry with the same Idempotency-Key names the files its first try attached.
  if (options.idempotent && sentWith.size === 1 && ![...sentWith].includes(null) && ![...sentWith].includes(undefined))
    return { ids, replayOnly: true, release: async () => {} };
  const problems: ValidationIssue[] = [];
  ids.forEach((id, index) => {
    const row = rows.get(id);
    // Someone else's upload is reported exactly like one that does not exist.
    if (!row || row.owner_id !== senderId) problems.push(issue(index, `attachment ${id} is not an upload of yours`, id));
    else if (row.message_id !== null) problems.push(issue(index, `attachment ${id} is already attached to a message`, id));
  });
  if (problems.length > 0) throw validationError(problems);
  const total = ids.reduce((sum, id) => sum + rows.get(id)!.size, 0);
  if (total > limits.maxBytes)
    throw validationError([issue(null, `the attachments hold ${total} bytes; a message may carry at most ${limits.maxBytes}`)]);

  const store = await getBlobStore();
  const leases: { blob: string; leaseId: string }[] = [];
  // Settled one by one, so that a lease taken before another call failed is released too.
  const settled = await Promise.allSettled(ids.map((id) => store.claim(rows.get(id)!.blob_name)));
  settled.forEach((result, index) => {
    if (result.status === "fulfilled" && result.value.kind === "claimed")
      leases.push({ blob: rows.get(ids[index])!.blob_name, leaseId: result.value.leaseId });
  });
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) {
    await releaseAll(store, leases);
    throw failed.reason;
  }
  settled.forEach((result, index) => {
    const claim = (result as PromiseFulfilledResult<Claim>).value;
    const { id, size } = rows.get(ids[index])!;
    if (claim.kind === "missing")
      problems.push(issue(index, `attachment ${id} has not been uploaded (or its upload URL expired before it was)`, id));
    else if (claim.kind === "leased") problems.push(issue(index, `attachment ${id} is already attached to a message`, id));
    else if (claim.size !== size)
      problems.push(issue(index, `attachment ${id} holds ${claim.size} bytes, not the ${size} declared (incomplete or replaced)`, id));
  });
  if (problems.length > 0) {
    await releaseAll(store, leases);
    throw validationError(problems);
  }
  return { ids, replayOnly: false, release: () => releaseAll(store, leases) };
}
