import "../shared/http/startup";

import { getConfig } from "../shared/config/config";
import { listMessages } from "../shared/data/messages";
import { defineEndpoint } from "../shared/http/endpoint";
import { LINK_HEADER, pagedAnswer } from "../shared/http/paging";
import { ListQuery, MessageList } from "../shared/http/schemas";

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
  handler: async ({ request, user, query }) => {
    const { limit, before_id, q, ...filters } = query;
    const page = { limit, before_id, q, maxBytes: getConfig().listMaxBytes };
    return pagedAnswer(request.url, await listMessages(user.id, filters, page), page);
  },
});
