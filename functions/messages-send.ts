import "../shared/startup";
import { app, type HttpRequest, type InvocationContext } from "@azure/functions";
import { authenticate } from "../shared/auth";
import { ERRORS } from "../shared/errors";
import { newMessageEvent } from "../shared/events";
import { endpoint, HttpError, ok } from "../shared/http";
import { threadOf } from "../shared/mailbox";
import { sendMessage } from "../shared/messages";
import { push } from "../shared/realtime";
import { readJson } from "../shared/request";
import { MessageCreate } from "../shared/schemas";

export const sendMessageHandler = endpoint(async (request: HttpRequest, context: InvocationContext) => {
  const sender = await authenticate(request);
  const input = await readJson(request, MessageCreate);
  // A reply must name a message in the sender's own mailbox; it joins that message's thread.
  const replyTo = input.in_reply_to ?? null;
  const threadId = replyTo === null ? null : await threadOf(replyTo, sender.id);
  if (replyTo !== null && threadId === null) throw new HttpError(404, ERRORS.messageNotFound);
  const sent = await sendMessage(sender.id, { ...input, thread_id: threadId });
  if (!sent) throw new HttpError(404, ERRORS.recipientNotFound);
  // After the commit: a lost notification must never lose the message.
  await push({ userId: sent.message.recipient_id }, newMessageEvent(sent.message, sent.recipientUnreadCount), context);
  return ok(sent.message);
});

app.http("messages-send", { route: "messages", methods: ["POST"], authLevel: "anonymous", handler: sendMessageHandler });
