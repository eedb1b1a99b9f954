import "../shared/startup";
import { app, type HttpRequest, type InvocationContext } from "@azure/functions";
import { authenticate } from "../shared/auth";
import { messagesReadEvents, unreadCountUpdatedEvent, type RealtimeEvent } from "../shared/events";
import { endpoint, ok } from "../shared/http";
import { markAllRead } from "../shared/mailbox";
import { pushAll, type Target } from "../shared/realtime";
import { readQuery } from "../shared/request";
import { MarkAllReadQuery } from "../shared/schemas";

/** Marks the inbox read (up to `up_to_id`): one count for the recipient, one frame per sender. */
export const markAllReadHandler = endpoint(async (request: HttpRequest, context: InvocationContext) => {
  const user = await authenticate(request);
  const { up_to_id } = readQuery(request, MarkAllReadQuery);
  const result = await markAllRead(user.id, up_to_id);
  if (result.marked > 0) {
    const pushes: [Target, RealtimeEvent][] = [[{ userId: user.id }, unreadCountUpdatedEvent(result.recipientUnreadCount)]];
    for (const { senderId, messageIds } of result.bySender) {
      for (const frame of messagesReadEvents(messageIds, result.readAt)) pushes.push([{ userId: senderId }, frame]);
    }
    await pushAll(pushes, context);
  }
  return ok({ marked: result.marked });
});

// "messages-mark-all-read" sorts before "messages-mark-read", whose template also matches this
// path: the Functions host tries routes in function-name order (test/routes.test.ts).
app.http("messages-mark-all-read", { route: "messages/inbox/read", methods: ["PUT"], authLevel: "anonymous", handler: markAllReadHandler });
