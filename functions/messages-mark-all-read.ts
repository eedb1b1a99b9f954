import "../shared/config/startup";
import { defineEndpoint } from "../shared/http/endpoint";
import { messagesReadEvents, unreadCountUpdatedEvent, type RealtimeEvent } from "../shared/realtime/events";
import { ok } from "../shared/http/http";
import { markAllRead } from "../shared/data/mailbox";
import { pushAll, type Target } from "../shared/realtime/realtime";
import { MarkAllReadQuery, MarkAllReadResult } from "../shared/http/schemas";

/** Marks the inbox read (up to `up_to_id`): one count for the recipient, one frame per sender. */
export const markAllReadHandler = defineEndpoint({
  // Sorts before "messages-mark-read", whose template also matches this path: the Functions
  // host tries routes in function-name order (test/routes.test.ts).
  name: "messages-mark-all-read",
  method: "PUT",
  route: "messages/inbox/read",
  summary: "Mark every received message read (up to up_to_id)",
  auth: "bearer",
  query: MarkAllReadQuery,
  response: MarkAllReadResult,
  handler: async ({ context, user, query: { up_to_id } }) => {
    const result = await markAllRead(user.id, up_to_id);
    if (result.marked > 0) {
      const pushes: [Target, RealtimeEvent][] = [[{ userId: user.id }, unreadCountUpdatedEvent(result.recipientUnreadCount)]];
      for (const { senderId, messageIds } of result.bySender) {
        for (const frame of messagesReadEvents(messageIds, result.readAt)) pushes.push([{ userId: senderId }, frame]);
      }
      await pushAll(pushes, context);
    }
    return ok({ marked: result.marked });
  },
});
