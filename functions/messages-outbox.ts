import "../shared/http/startup";

import { outboxRide, readOutboxPage } from "../shared/data/messages";
import { defineEndpoint } from "../shared/http/endpoint";
import { boundedPage, LINK_HEADER, pagedAnswer } from "../shared/http/paging";
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
  // The page is read in the statement that authenticates the request, where its plan allows.
  lookup: ({ query }) => outboxRide(boundedPage(query)),
  handler: async ({ request, user, query, found }) => {
    const page = boundedPage(query);
    return pagedAnswer(request.url, await readOutboxPage(user.id, page, found), page);
  },
});
