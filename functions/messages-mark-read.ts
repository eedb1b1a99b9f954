import "../shared/startup";
import { app, type HttpRequest, type InvocationContext } from "@azure/functions";
import { authenticate } from "../shared/auth";
import { ERRORS, MARKED_READ_MESSAGE } from "../shared/errors";
import { messageReadEvent, messageUpdatedEvent, unreadCountUpdatedEvent } from "../shared/events";
import { endpoint, HttpError, ok } from "../shared/http";
import { markRead } from "../shared/messages";
import { pushAll } from "../shared/realtime";
import { readParams } from "../shared/request";
import { MarkReadPath } from "../shared/schemas";

/** Idempotent; only the first read notifies the recipient's and the sender's sockets. */
export const markMessageRead = endpoint(async (request: HttpRequest, context: InvocationContext) => {
  const user = await authenticate(request);
  const { message_id } = readParams(request, MarkReadPath);
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
});

app.http("messages-mark-read", { route: "messages/{message_id}/read", methods: ["PUT"], authLevel: "anonymous", handler: markMessageRead });
