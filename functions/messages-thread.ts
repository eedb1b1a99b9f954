import "../shared/config/startup";
import { defineEndpoint } from "../shared/http/endpoint";
import { ERRORS } from "../shared/http/errors";
import { HttpError, ok } from "../shared/http/http";
import { listThread } from "../shared/data/mailbox";
import { MessageList, MessagePath } from "../shared/http/schemas";

/** The conversation a message belongs to, as far as the caller can see it, oldest first. */
export const messageThread = defineEndpoint({
  name: "messages-thread",
  method: "GET",
  route: "messages/{message_id}/thread",
  summary: "The conversation of a message, oldest first",
  auth: "bearer",
  path: MessagePath,
  response: MessageList,
  errors: [404],
  handler: async ({ user, path: { message_id } }) => {
    const thread = await listThread(message_id, user.id);
    if (!thread) throw new HttpError(404, ERRORS.messageNotFound);
    return ok(thread);
  },
});
