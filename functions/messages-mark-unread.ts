import "../shared/startup";
import { app, type HttpRequest, type InvocationContext } from "@azure/functions";
import { authenticate } from "../shared/auth";
import { ERRORS, MARKED_UNREAD_MESSAGE } from "../shared/errors";
import { messageUpdatedEvent, unreadCountUpdatedEvent } from "../shared/events";
import { endpoint, HttpError, ok } from "../shared/http";
import { markUnread } from "../shared/mailbox";
import { pushAll } from "../shared/realtime";
import { readParams } from "../shared/request";
import { MessagePath } from "../shared/schemas";

/** Idempotent; only an actual change notifies the recipient's sockets. */
export const markMessageUnread = endpoint(async (request: HttpRequest, context: InvocationContext) => {
  const user = await authenticate(request);
  const { message_id } = readParams(request, MessagePath);
  const outcome = await markUnread(message_id, user.id);
  if (outcome.kind === "not_found") throw new HttpError(404, ERRORS.messageNotFound);
  if (outcome.kind === "marked_unread") {
    await pushAll(
      [
        [{ userId: user.id }, unreadCountUpdatedEvent(outcome.recipientUnreadCount)],
        [{ userId: user.id }, messageUpdatedEvent(message_id, false)],
      ],
      context,
    );
  }
  return ok({ message: MARKED_UNREAD_MESSAGE });
});

app.http("messages-mark-unread", { route: "messages/{message_id}/unread", methods: ["PUT"], authLevel: "anonymous", handler: markMessageUnread });
