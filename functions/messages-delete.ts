import "../shared/startup";
import { app, type HttpRequest, type InvocationContext } from "@azure/functions";
import { authenticate } from "../shared/auth";
import { ERRORS } from "../shared/errors";
import { messageDeletedEvent, unreadCountUpdatedEvent, type RealtimeEvent } from "../shared/events";
import { endpoint, HttpError } from "../shared/http";
import { deleteMessage } from "../shared/mailbox";
import { pushAll } from "../shared/realtime";
import { readParams } from "../shared/request";
import { MessagePath } from "../shared/schemas";

/** Removes the message from the caller's mailbox only; the other party keeps it. */
export const deleteMessageHandler = endpoint(async (request: HttpRequest, context: InvocationContext) => {
  const user = await authenticate(request);
  const { message_id } = readParams(request, MessagePath);
  const outcome = await deleteMessage(message_id, user.id);
  if (outcome.kind === "not_found") throw new HttpError(404, ERRORS.messageNotFound);
  const events: RealtimeEvent[] = [messageDeletedEvent(message_id)];
  if (outcome.unreadCountChanged) events.push(unreadCountUpdatedEvent(outcome.unreadCount));
  await pushAll(
    events.map((event) => [{ userId: user.id }, event]),
    context,
  );
  return { status: 204 };
});

app.http("messages-delete", { route: "messages/{message_id}", methods: ["DELETE"], authLevel: "anonymous", handler: deleteMessageHandler });
