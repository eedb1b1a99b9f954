import "../shared/http/startup";

import { SWEEP_EVERY_MINUTES, sweepAttachments } from "../shared/http/attachment-cleanup";
import { registerTimerFunction, type TimerFunction } from "../shared/http/registration";

/**
 * Every few minutes: deletes uploads never attached to a message after 24 hours, and the blobs
 * whose rows are gone but whose delete has not happened yet (shared/storage/cleanup.ts).
 */
export const attachmentsSweep: TimerFunction = {
  name: "attachments-sweep",
  schedule: `0 */${SWEEP_EVERY_MINUTES} * * * *`,
  handler: async (context) => {
    const swept = await sweepAttachments(context);
    if (swept.uploadsExpired + swept.blobsDeleted + swept.blobDeletesFailed > 0) context.log(`attachments sweep: ${JSON.stringify(swept)}`);
  },
};

registerTimerFunction(attachmentsSweep);
