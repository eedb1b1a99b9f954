import "../shared/http/startup";

import { z } from "zod";

import { getConfig } from "../shared/config/config";
import { attachmentForViewer } from "../shared/data/attachments";
import { ERRORS } from "../shared/domain/errors";
import { canBeId } from "../shared/domain/schemas";
import { defineEndpoint } from "../shared/http/endpoint";
import { HttpError } from "../shared/http/http";
import { MessagePath } from "../shared/http/schemas";
import { getBlobStore } from "../shared/storage/blob-store";

/** How soon to ask again while Defender scans (it usually takes seconds). */
const SCAN_RETRY_AFTER_SECONDS = 5;

// Any text: an id that is not a UUID names no attachment (404, not 422).
const AttachmentPath = MessagePath.extend({ attachment_id: z.string() });
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A redirect to a read-only URL for one attachment, for anyone who holds a copy of its message. */
export const attachmentsDownload = defineEndpoint({
  name: "attachments-download",
  method: "GET",
  route: "messages/{message_id}/attachments/{attachment_id}",
  summary: "Download an attachment: 302 to a short-lived read-only URL on the storage account",
  auth: "bearer",
  path: AttachmentPath,
  response: null,
  success: 302,
  errors: [404, 409, 410, 503],
  // Read with the user and session: an id that cannot name a row is not asked, and answers as a row not found.
  lookup: ({ path: { message_id, attachment_id } }) =>
    UUID.test(attachment_id) && canBeId(message_id) ? attachmentForViewer(message_id, attachment_id) : null,
  handler: async ({ found: file }) => {
    if (!file) throw new HttpError(404, ERRORS.attachmentNotFound);
    const { attachments } = getConfig();
    const store = await getBlobStore();
    if (attachments.malwareScanning) {
      const verdict = await store.scanVerdict(file.blob_name);
      if (verdict === "pending")
        throw new HttpError(409, ERRORS.attachmentBeingScanned, { "Retry-After": String(SCAN_RETRY_AFTER_SECONDS) });
      if (verdict === "malicious") throw new HttpError(410, ERRORS.attachmentMalicious);
    }
    const expiresAt = new Date(Date.now() + attachments.downloadMinutes * 60_000);
    const url = await store.downloadUrl(file.blob_name, { filename: file.filename, contentType: file.content_type }, expiresAt);
    return { status: 302, headers: { Location: url, "Cache-Control": "no-store" } };
  },
});
