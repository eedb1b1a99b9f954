import "../shared/startup";
import { app, type HttpRequest } from "@azure/functions";
import { authenticate } from "../shared/auth";
import { ERRORS } from "../shared/errors";
import { endpoint, HttpError, ok } from "../shared/http";
import { getMessage } from "../shared/mailbox";
import { readParams } from "../shared/request";
import { MessagePath } from "../shared/schemas";

/** One message of the caller's mailbox (sent or received, not deleted by them). */
export const viewMessage = endpoint(async (request: HttpRequest) => {
  const user = await authenticate(request);
  const { message_id } = readParams(request, MessagePath);
  const message = await getMessage(message_id, user.id);
  if (!message) throw new HttpError(404, ERRORS.messageNotFound);
  return ok(message);
});

// The Functions host tries routes in function-name order: "messages-view" must sort after
// messages-inbox, -outbox and -unread-count, whose paths this template also matches (test/routes.test.ts).
app.http("messages-view", { route: "messages/{message_id}", methods: ["GET"], authLevel: "anonymous", handler: viewMessage });
