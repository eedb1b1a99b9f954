import "../shared/startup";
import { defineEndpoint } from "../shared/endpoint";
import { ok } from "../shared/http";
import { countUnread } from "../shared/messages";
import { UnreadCount } from "../shared/schemas";

export const unreadCount = defineEndpoint({
  name: "messages-unread-count",
  method: "GET",
  route: "messages/unread_count",
  trailingSlash: true,
  summary: "Number of unread received messages",
  auth: "bearer",
  response: UnreadCount,
  handler: async ({ user }) => ok({ unread_count: await countUnread(user.id) }),
});
