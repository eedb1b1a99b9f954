import "../shared/http/startup";

import { z } from "zod";

import { listRide, readListPage } from "../shared/data/messages";
import { defineEndpoint } from "../shared/http/endpoint";
import { boundedPage, LINK_HEADER, pagedAnswer } from "../shared/http/paging";
import { ListQuery, MessageList } from "../shared/http/schemas";

/** The request's filters, and its page with the byte bound. */
function filtersAndPage(query: z.infer<typeof ListQuery>) {
  const { limit, before_id, q, ...filters } = query;
  return { filters, page: boundedPage({ limit, before_id, q }) };
}

/** The caller's copies, newest first, filtered; each filter is served by an index over the caller's own copies. */
export const messagesList = defineEndpoint({
  name: "messages-list",
  method: "GET",
  route: "messages",
  trailingSlash: true,
  summary: "Your messages in every folder (but trash, unless asked), filtered, newest first",
  auth: "bearer",
  query: ListQuery,
  response: MessageList,
  responseHeaders: LINK_HEADER,
  // The page is read in the statement that authenticates the request, where its plan allows.
  lookup: ({ query }) => {
    const { filters, page } = filtersAndPage(query);
    return listRide(filters, page);
  },
  handler: async ({ request, user, query, found }) => {
    const { filters, page } = filtersAndPage(query);
    return pagedAnswer(request.url, await readListPage(user.id, filters, page, found), page);
  },
});
