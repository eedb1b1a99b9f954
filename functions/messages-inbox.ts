import "../shared/http/startup";

import { getConfig } from "../shared/config/config";
import { listInbox } from "../shared/data/messages";
import { defineEndpoint } from "../shared/http/endpoint";
import { LINK_HEADER, pagedAnswer } from "../shared/http/paging";
import { InboxQuery, MessageList } from "../shared/http/schemas";

export const messagesInbox = defineEndpoint({
  name: "messages-inbox",
  method: "GET",
  route: "messages/inbox",
  trailingSlash: true,
  summary: "Received messages, newest first",
  auth: "bearer",
  query: InboxQuery,
  response: MessageList,
  responseHeaders: LINK_HEADER,
  handler: async ({ request, user, query }) => {
    const page = { ...query, maxBytes: getConfig().listMaxBytes };
    return pagedAnswer(request.url, await listInbox(user.id, page), page);
  },
});
