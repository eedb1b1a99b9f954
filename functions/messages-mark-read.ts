import "../shared/config/startup";
import { defineEndpoint } from "../shared/http/endpoint";
import { ERRORS, MARKED_READ_MESSAGE } from "../shared/http/errors";
import { messageReadEvent, messageUpdatedEvent, unreadCountUpdatedEvent } from "../shared/realtime/events";
import { HttpError, ok } from "../shared/http/http";
import { markRead } from "../shared/data/messages";
import { pushAll } from "../shared/realtime/realtime";
import { MarkReadPath, MarkReadResult } from "../shared/http/schemas";

/** Idempotent; only the first read notifies the recipient's and the sender's sockets. */
export const markMessageRead = defineEndpoint({
  name: "messages-mark-read",
  method: "PUT",
  route: "messages/{message_id}/read",
  summary: "Mark a received message read",
  auth: "bearer",
  path: MarkReadPath,
  response: MarkReadResult,
  errors: [404],
  handler: async ({ context, user, path: { message_id } }) => {
    const outcome = await markRead(message_id, user.id);
    if (outcome.kind === "not_found") throw new HttpError(404, ERRORS.messageNotFound);
    if (outcome.kind === "first_read") {
      await pushAll(
        [
          [{ userId: user.id }, unreadCountUpdatedEvent(outcome.recipientUnreadCount)],
          [{ userId: user.id }, messageUpdatedEvent(message_id, true)],
          [{ userId: outcome.senderId }, messageReadEvent(message_id, outcome.readAt)],
        ],
        context,
      );
    }
    return ok({ message: MARKED_READ_MESSAGE });
  },
});
