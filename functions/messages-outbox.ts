import "../shared/http/startup";

import { getConfig } from "../shared/config/config";
import { listOutbox } from "../shared/data/messages";
import { defineEndpoint } from "../shared/http/endpoint";
import { LINK_HEADER, pagedAnswer } from "../shared/http/paging";
import { MessageList, OutboxQuery } from "../shared/http/schemas";

export const messagesOutbox = defineEndpoint({
  name: "messages-outbox",
  method: "GET",
  route: "messages/outbox",
  trailingSlash: true,
  summary: "Sent messages, newest first",
  auth: "bearer",
  query: OutboxQuery,
  response: MessageList,
  responseHeaders: LINK_HEADER,
  handler: async ({ request, user, query }) => {
    const page = { ...query, maxBytes: getConfig().listMaxBytes };
    return pagedAnswer(request.url, await listOutbox(user.id, page), page);
  },
});
