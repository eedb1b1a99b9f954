import "../shared/startup";
import { defineEndpoint } from "../shared/endpoint";
import { json } from "../shared/http";
import { listInbox } from "../shared/messages";
import { LINK_HEADER, nextPageHeaders } from "../shared/paging";
import { InboxQuery, MessageList } from "../shared/schemas";

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
