import "../shared/http/startup";

import { getStateChangeLimits } from "../shared/auth/state-change-limits";
import { markRead } from "../shared/data/mailbox";
import { ERRORS, MARKED_READ_MESSAGE } from "../shared/domain/errors";
import { defineEndpoint } from "../shared/http/endpoint";
import { HttpError, ok } from "../shared/http/http";
import { MarkReadResult, MessagePath } from "../shared/http/schemas";
import { pushFrames } from "../shared/realtime/realtime";

/** Idempotent; only the first read notifies the recipient's and the sender's sockets. */
export const messagesMarkRead = defineEndpoint({
  name: "messages-mark-read",
  method: "PUT",
  route: "messages/{message_id}/read",
  summary: "Mark a received message read",
  auth: "bearer",
  path: MessagePath,
  response: MarkReadResult,
  errors: [404, 429],
  handler: async ({ context, user, path: { message_id } }) => {
    // Counted first: every change pushes frames, which the service's Web PubSub quota pays for.
    await getStateChangeLimits().countChange(user.id);
    const outcome = await markRead(message_id, user.id);
    if (outcome.kind === "not_found") throw new HttpError(404, ERRORS.messageNotFound);
    // The recipient's new count and the message's state, and the sender's read receipt.
    if (outcome.kind === "first_read") await pushFrames(outcome.frames, context);
    return ok({ message: MARKED_READ_MESSAGE });
  },
});
