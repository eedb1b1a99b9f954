import "../shared/http/startup";

import { getStateChangeLimits } from "../shared/auth/state-change-limits";
import { markUnread } from "../shared/data/mailbox";
import { ERRORS, MARKED_UNREAD_MESSAGE } from "../shared/domain/errors";
import { defineEndpoint } from "../shared/http/endpoint";
import { HttpError, ok } from "../shared/http/http";
import { MarkReadResult, MessagePath } from "../shared/http/schemas";
import { pushFrames } from "../shared/realtime/realtime";

/** Idempotent; only an actual change notifies the recipient's sockets. */
export const messagesMarkUnread = defineEndpoint({
  name: "messages-mark-unread",
  method: "PUT",
  route: "messages/{message_id}/unread",
  summary: "Mark a received message unread",
  auth: "bearer",
  path: MessagePath,
  response: MarkReadResult,
  errors: [404, 429],
  handler: async ({ context, user, path: { message_id } }) => {
    // Counted first: every change pushes frames, which the service's Web PubSub quota pays for.
    await getStateChangeLimits().countChange(user.id);
    const outcome = await markUnread(message_id, user.id);
    if (outcome.kind === "not_found") throw new HttpError(404, ERRORS.messageNotFound);
    // The new count and the message's state, logged with the change.
    if (outcome.kind === "marked_unread") await pushFrames(outcome.frames, context);
    return ok({ message: MARKED_UNREAD_MESSAGE });
  },
});
