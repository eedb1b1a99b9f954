import "../shared/http/startup";

import { getConfig, type AttachmentSettings } from "../shared/config/config";
import { newUploadSlot, slotRefusal, withdrawSlot } from "../shared/data/attachments";
import { attachmentTooLargeDetail, ERRORS } from "../shared/domain/errors";
import { SWEEP_EVERY_MINUTES, UNATTACHED_HOURS } from "../shared/http/attachment-cleanup";
import { defineEndpoint } from "../shared/http/endpoint";
import { HttpError, json } from "../shared/http/http";
import { AttachmentCreate, UploadSlot } from "../shared/http/schemas";
import { getBlobStore } from "../shared/storage/blob-store";

/** The header Put Blob needs, and the type the blob is stored with. */
const uploadHeaders = (contentType: string) => ({ "x-ms-blob-type": "BlockBlob", "Content-Type": contentType });

/** A file larger than all the pending bytes a user may hold could never get a slot. */
const largestFile = (limits: AttachmentSettings) => Math.min(limits.maxBytes, limits.pendingMaxBytes);

const pendingLimits = () => ({ ...getConfig().attachments, unattachedHours: UNATTACHED_HOURS });

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
  // The slot is written in the statement that authenticates the request: one round trip.
  lookup: ({ body }) =>
    body.size > largestFile(getConfig().attachments)
      ? null
      : newUploadSlot({ filename: body.filename, contentType: body.content_type, size: body.size }, pendingLimits()),
  handler: async ({ user, body, found: slot }) => {
    const limits = pendingLimits();
    const largest = largestFile(limits);
    if (body.size > largest) throw new HttpError(413, attachmentTooLargeDetail(largest));
    if (!slot) {
      // Room is made when the sweep after the oldest uploads' expiry deletes them (or sooner, by sending them).
      const refused = await slotRefusal(user.id, body.size, limits);
      const retryAfter = { "Retry-After": String(refused.expiresInSeconds + SWEEP_EVERY_MINUTES * 60) };
      throw new HttpError(429, refused.kind === "too_many" ? ERRORS.tooManyPendingUploads : ERRORS.tooManyPendingUploadBytes, retryAfter);
    }
    const expiresAt = new Date(Date.now() + limits.uploadMinutes * 60_000);
    let uploadUrl: string;
    try {
      uploadUrl = await (await getBlobStore()).uploadUrl(slot.blob_name, expiresAt);
    } catch (error) {
      // Storage could not sign: the slot goes, so it holds no place against the user's limits.
      await withdrawSlot(slot, user.id);
      throw error;
    }
    return json(201, {
      id: slot.id,
      upload_url: uploadUrl,
      method: "PUT",
      headers: uploadHeaders(slot.content_type),
      expires_at: expiresAt.toISOString(),
    });
  },
});
