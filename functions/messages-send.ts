import "../shared/http/startup";

import { getSendLimits } from "../shared/auth/send-limits";
import { getConfig } from "../shared/config/config";
import { attachmentsOf, attachToMessage } from "../shared/data/attachments";
import { threadOf } from "../shared/data/mailbox";
import { addressing, sendMessage } from "../shared/data/messages";
import { ERRORS } from "../shared/domain/errors";
import { claimAttachments } from "../shared/http/attachment-send";
import { defineEndpoint } from "../shared/http/endpoint";
import { HttpError, ok, validationError } from "../shared/http/http";
import { IDEMPOTENCY_KEY_HEADER, Message, MessageCreate, MessageSendHeaders } from "../shared/http/schemas";
import { pushFrames } from "../shared/realtime/realtime";

export const messagesSend = defineEndpoint({
  name: "messages-send",
  method: "POST",
  route: "messages",
  trailingSlash: true,
  summary: "Send a message",
  auth: "bearer",
  headers: MessageSendHeaders,
  body: { schema: MessageCreate, media: "json" },
  response: Message,
  errors: [404, 410, 429, 503],
  handler: async ({ context, user: sender, headers, body: input }) => {
    const to = input.to ?? (input.recipient_id === undefined ? [] : [input.recipient_id]);
    const { recipients } = addressing(to, input.cc, input.bcc);
    const { maxRecipients } = getConfig();
    if (recipients.length > maxRecipients)
      throw validationError([
        { type: "too_long", loc: ["body", "to"], msg: `At most ${maxRecipients} distinct recipients (to, cc and bcc together)` },
      ]);
    const replyTo = input.in_reply_to ?? null;
    const idempotencyKey = headers[IDEMPOTENCY_KEY_HEADER];
    // The sender's budgets (one point per recipient): by the send's own statement when it is all the
    // work, else here first. A recipient's only once a message is stored for them.
    const limits = getSendLimits();
    const oneStatement =
      replyTo === null && idempotencyKey === undefined && (input.attachments ?? []).length === 0 && limits.mayDeferSenderBudget(sender.id);
    if (!oneStatement) await limits.spendSenderBudget(sender.id, recipients.length);
    // A reply must name a message in the sender's own mailbox; it joins that message's thread.
    const threadId = replyTo === null ? null : await threadOf(replyTo, sender.id);
    if (replyTo !== null && threadId === null) throw new HttpError(404, ERRORS.messageNotFound);
    // Checked against storage before the transaction; 422 naming an attachment, or 503, and nothing stored.
    const files = await claimAttachments(sender.id, input.attachments ?? [], getConfig().attachments, {
      idempotent: idempotencyKey !== undefined,
    });
    let sent: Awaited<ReturnType<typeof sendMessage>>;
    try {
      sent = await sendMessage(
        sender.id,
        { ...input, to, thread_id: threadId },
        {
          idempotencyKey,
          asked: input,
          recipientBudget: limits.recipientBudget(recipients),
          senderBudget: oneStatement ? limits.senderBudget(sender.id, recipients.length) : undefined,
          // Only a send with files needs a transaction around its statement.
          onStored:
            files.ids.length === 0
              ? undefined
              : async (tx, messageId) => {
                  if (files.replayOnly || !(await attachToMessage(tx, messageId, sender.id, files.ids)))
                    throw validationError([
                      {
                        type: "value_error",
                        loc: ["body", "attachments"],
                        msg: "Value error, an attachment is already attached to another message",
                      },
                    ]);
                },
        },
      );
    } catch (error) {
      await files.release();
      throw error;
    }
    if (sent.kind !== "sent") await files.release();
    switch (sent.kind) {
      case "sender_budget_spent":
      case "recipient_budget_spent":
        // The refused statement took the sender's spend with it: a refused send still costs its
        // sender, and a sender refused is remembered (see mayDeferSenderBudget).
        if (oneStatement) await limits.spendSenderBudget(sender.id, recipients.length);
        throw limits.refusal(sent.expire);
      case "recipient_not_found":
        throw new HttpError(404, ERRORS.recipientNotFound);
      case "different_request":
        throw new HttpError(422, ERRORS.idempotencyKeyReused);
      case "replayed_deleted":
        // Sent once already, and erased since: nothing is sent again, and no text is left to answer with.
        throw new HttpError(410, ERRORS.idempotentMessageDeleted);
      case "replayed":
        // The first request's answer; its push was sent then and is not sent again.
        return ok(sent.message);
      case "sent":
        // After the commit: a lost notification must never lose the message.
        await pushFrames(sent.frames, context);
        return ok(files.ids.length > 0 ? { ...sent.message, attachments: await attachmentsOf(sent.message.id) } : sent.message);
    }
  },
});
