import "../shared/http/startup";

import { getStateChangeLimits } from "../shared/auth/state-change-limits";
import { deleteMessage } from "../shared/data/mailbox";
import { ERRORS } from "../shared/domain/errors";
import { deleteQueuedBlobsAfterCommit } from "../shared/http/attachment-cleanup";
import { defineEndpoint } from "../shared/http/endpoint";
import { HttpError } from "../shared/http/http";
import { CopyQuery, MessagePath } from "../shared/http/schemas";
import { pushFrames } from "../shared/realtime/realtime";

/** Removes the message from the caller's mailbox only; the other party keeps it. */
export const messagesDelete = defineEndpoint({
  name: "messages-delete",
  method: "DELETE",
  route: "messages/{message_id}",
  summary: "Delete a message from your mailbox (the other party keeps it)",
  auth: "bearer",
  path: MessagePath,
  query: CopyQuery,
  response: null,
  errors: [404, 429],
  handler: async ({ context, user, path: { message_id }, query: { copy } }) => {
    // Counted first: every change pushes frames, which the service's Web PubSub quota pays for.
    await getStateChangeLimits().countChange(user.id);
    const outcome = await deleteMessage(message_id, user.id, copy);
    if (outcome.kind === "not_found") throw new HttpError(404, ERRORS.messageNotFound);
    // message_deleted, and the new count when the message was unread.
    await pushFrames(outcome.frames, context);
    // The last copy took the message, and its attachments' blobs were queued: delete them now
    // (the attachments sweep retries any delete that fails).
    await deleteQueuedBlobsAfterCommit(context);
    return { status: 204 };
  },
});
