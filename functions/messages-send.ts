import "../shared/startup";
import { app, type HttpRequest, type InvocationContext } from "@azure/functions";
import { authenticate } from "../shared/auth";
import { ERRORS } from "../shared/errors";
import { newMessageEvent } from "../shared/events";
import { endpoint, HttpError, ok } from "../shared/http";
import { readIdempotencyKey } from "../shared/idempotency";
import { threadOf } from "../shared/mailbox";
import { sendMessage } from "../shared/messages";
import { push } from "../shared/realtime";
import { readJson } from "../shared/request";
import { MessageCreate } from "../shared/schemas";

export const sendMessageHandler = endpoint(async (request: HttpRequest, context: InvocationContext) => {
  const sender = await authenticate(request);
  const idempotencyKey = readIdempotencyKey(request);
  const input = await readJson(request, MessageCreate);
  // A reply must name a message in the sender's own mailbox; it joins that message's thread.
  const replyTo = input.in_reply_to ?? null;
  const threadId = replyTo === null ? null : await threadOf(replyTo, sender.id);
  if (replyTo !== null && threadId === null) throw new HttpError(404, ERRORS.messageNotFound);
  const sent = await sendMessage(sender.id, { ...input, thread_id: threadId }, { idempotencyKey, log: context });
  switch (sent.kind) {
    case "recipient_not_found":
      throw new HttpError(404, ERRORS.recipientNotFound);
    case "different_request":
      throw new HttpError(422, ERRORS.idempotencyKeyReused);
    case "replayed":
      // The first request's answer; its push was sent then and is not sent again.
      return ok(sent.message);
    case "sent":
      // After the commit: a lost notification must never lose the message.
      await push({ userId: sent.message.recipient_id }, newMessageEvent(sent.message, sent.recipientUnreadCount), context);
      return ok(sent.message);
  }
});

app.http("messages-send", { route: "messages", methods: ["POST"], authLevel: "anonymous", handler: sendMessageHandler });
