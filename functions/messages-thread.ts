import "../shared/startup";
import { app, type HttpRequest } from "@azure/functions";
import { authenticate } from "../shared/auth";
import { ERRORS } from "../shared/errors";
import { endpoint, HttpError, ok } from "../shared/http";
import { listThread } from "../shared/mailbox";
import { readParams } from "../shared/request";
import { MessagePath } from "../shared/schemas";

/** The conversation a message belongs to, as far as the caller can see it, oldest first. */
export const messageThread = endpoint(async (request: HttpRequest) => {
  const user = await authenticate(request);
  const { message_id } = readParams(request, MessagePath);
  const thread = await listThread(message_id, user.id);
  if (!thread) throw new HttpError(404, ERRORS.messageNotFound);
  return ok(thread);
});

app.http("messages-thread", { route: "messages/{message_id}/thread", methods: ["GET"], authLevel: "anonymous", handler: messageThread });
