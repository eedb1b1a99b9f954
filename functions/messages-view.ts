import "../shared/http/startup";

import { getMessage } from "../shared/data/mailbox";
import { ERRORS } from "../shared/domain/errors";
import { defineEndpoint } from "../shared/http/endpoint";
import { HttpError, ok } from "../shared/http/http";
import { CopyQuery, Message, MessagePath } from "../shared/http/schemas";

/** One message of the caller's mailbox (sent or received, not deleted by them). */
export const messagesView = defineEndpoint({
  // Must sort after messages-inbox, -outbox and -unread-count, whose paths this template also
  // matches: the Functions host tries routes in function-name order (test/unit/routes.test.ts).
  name: "messages-view",
  method: "GET",
  route: "messages/{message_id}",
  summary: "One message you sent or received",
  auth: "bearer",
  path: MessagePath,
  query: CopyQuery,
  response: Message,
  errors: [404],
  handler: async ({ user, path: { message_id }, query: { copy } }) => {
    const message = await getMessage(message_id, user.id, copy);
    if (!message) throw new HttpError(404, ERRORS.messageNotFound);
    return ok(message);
  },
});
