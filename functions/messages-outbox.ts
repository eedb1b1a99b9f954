import "../shared/config/startup";
import { defineEndpoint } from "../shared/http/endpoint";
import { json } from "../shared/http/http";
import { listOutbox } from "../shared/data/messages";
import { LINK_HEADER, nextPageHeaders } from "../shared/http/paging";
import { MessageList, OutboxQuery } from "../shared/http/schemas";

export const outbox = defineEndpoint({
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
    const page = await listOutbox(user.id, query);
    return json(200, page, nextPageHeaders(request.url, page, query.limit));
  },
});
