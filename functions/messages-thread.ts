import "../shared/http/startup";

import { getConfig } from "../shared/config/config";
import { readThreadPage } from "../shared/data/mailbox";
import { ERRORS } from "../shared/domain/errors";
import { defineEndpoint } from "../shared/http/endpoint";
import { HttpError } from "../shared/http/http";
import { pagedAnswer } from "../shared/http/paging";
import { MessageList, MessagePath, ThreadQuery } from "../shared/http/schemas";

/** The conversation a message belongs to, as far as the caller can see it, oldest first, a page at a time. */
export const messagesThread = defineEndpoint({
  name: "messages-thread",
  method: "GET",
  route: "messages/{message_id}/thread",
  summary: "The conversation of a message, oldest first",
  auth: "bearer",
  path: MessagePath,
  query: ThreadQuery,
  response: MessageList,
  responseHeaders: {
    Link: 'RFC 8288 `<...?after_id=N&limit=L...>; rel="next"` when the page is full or reached the byte bound (LIST_MAX_BYTES)',
  },
  errors: [404],
  handler: async ({ request, user, path: { message_id }, query }) => {
    const page = { ...query, maxBytes: getConfig().listMaxBytes };
    const thread = await readThreadPage(message_id, user.id, page);
    if (!thread) throw new HttpError(404, ERRORS.messageNotFound);
    return pagedAnswer(request.url, thread, page, "after_id");
  },
});
