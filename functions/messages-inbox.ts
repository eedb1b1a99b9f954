import "../shared/http/startup";

import { inboxRide, readInboxPage } from "../shared/data/messages";
import { defineEndpoint } from "../shared/http/endpoint";
import { boundedPage, LINK_HEADER, pagedAnswer } from "../shared/http/paging";
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
  // The page is read in the statement that authenticates the request, where its plan allows.
  lookup: ({ query }) => inboxRide(boundedPage(query)),
  handler: async ({ request, user, query, found }) => {
    const page = boundedPage(query);
    return pagedAnswer(request.url, await readInboxPage(user.id, page, found), page);
  },
});
