import "../shared/http/startup";

import { getConfig } from "../shared/config/config";
import { createAttachment, newBlobName } from "../shared/data/attachments";
import { attachmentTooLargeDetail, ERRORS } from "../shared/domain/errors";
import { SWEEP_EVERY_MINUTES, UNATTACHED_HOURS } from "../shared/http/attachment-cleanup";
import { defineEndpoint } from "../shared/http/endpoint";
import { HttpError, json } from "../shared/http/http";
import { AttachmentCreate, UploadSlot } from "../shared/http/schemas";
import { getBlobStore } from "../shared/storage/blob-store";

/** The header Put Blob needs, and the type the blob is stored with. */
const uploadHeaders = (contentType: string) => ({ "x-ms-blob-type": "BlockBlob", "Content-Type": contentType });

export const attachmentsCreate = defineEndpoint({
  name: "attachments-create",
  method: "POST",
  route: "attachments",
  summary: "Get a URL to upload one file to, for attaching to a message",
  auth: "bearer",
  body: { schema: AttachmentCreate, media: "json" },
  response: UploadSlot,
  success: 201,
  errors: [413, 429, 503],
  handler: async ({ user, body }) => {
    const limits = getConfig().attachments;
    // A file larger than all the pending bytes a user may hold could never get a slot.
    const largest = Math.min(limits.maxBytes, limits.pendingMaxBytes);
    if (body.size > largest) throw new HttpError(413, attachmentTooLargeDetail(largest));
    // Signed before the row is written: storage being down leaves no slot behind to count against the user.
    const blobName = newBlobName();
    const expiresAt = new Date(Date.now() + limits.uploadMinutes * 60_000);
    const uploadUrl = await (await getBlobStore()).uploadUrl(blobName, expiresAt);
    const created = await createAttachment(
      user.id,
      { blobName, filename: body.filename, contentType: body.content_type, size: body.size },
      { ...limits, unattachedHours: UNATTACHED_HOURS },
    );
    if (created.kind !== "created") {
      // Room is made when the sweep after the oldest uploads' expiry deletes them (or sooner, by sending them).
      const retryAfter = { "Retry-After": String(created.expiresInSeconds + SWEEP_EVERY_MINUTES * 60) };
      throw new HttpError(429, created.kind === "too_many" ? ERRORS.tooManyPendingUploads : ERRORS.tooManyPendingUploadBytes, retryAfter);
    }
    return json(201, {
      id: created.attachment.id,
      upload_url: uploadUrl,
      method: "PUT",
      headers: uploadHeaders(created.attachment.content_type),
      expires_at: expiresAt.toISOString(),
    });
  },
});
