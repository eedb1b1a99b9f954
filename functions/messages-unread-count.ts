import "../shared/http/startup";

import { countUnread } from "../shared/data/messages";
import { defineEndpoint } from "../shared/http/endpoint";
import { ok } from "../shared/http/http";
import { UnreadCount } from "../shared/http/schemas";

export const messagesUnreadCount = defineEndpoint({
  name: "messages-unread-count",
  method: "GET",
  route: "messages/unread_count",
  trailingSlash: true,
  summary: "Number of unread received messages",
  auth: "bearer",
  response: UnreadCount,
  handler: async ({ user }) => ok({ unread_count: await countUnread(user.id) }),
});
