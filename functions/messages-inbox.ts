import "../shared/config/startup";
import { defineEndpoint } from "../shared/http/endpoint";
import { json } from "../shared/http/http";
import { listInbox } from "../shared/data/messages";
import { LINK_HEADER, nextPageHeaders } from "../shared/http/paging";
import { InboxQuery, MessageList } from "../shared/http/schemas";

export const inbox = defineEndpoint({
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
    const page = await listInbox(user.id, query);
    return json(200, page, nextPageHeaders(request.url, page, query.limit));
  },
});
