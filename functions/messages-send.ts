import "../shared/http/startup";

import type { z } from "zod";

import { getSendLimits } from "../shared/auth/send-limits";
import { getConfig } from "../shared/config/config";
import { attachmentsOf, attachToMessage } from "../shared/data/attachments";
import { threadOf } from "../shared/data/mailbox";
import { addressingOf, rodeOutcome, sendMessage, sendRide, type SendOutcome } from "../shared/data/messages";
import { ERRORS } from "../shared/domain/errors";
import { claimAttachments, type ClaimedAttachments } from "../shared/http/attachment-send";
import { defineEndpoint } from "../shared/http/endpoint";
import { HttpError, ok, validationError } from "../shared/http/http";
import { IDEMPOTENCY_KEY_HEADER, Message, MessageCreate, MessageSendHeaders } from "../shared/http/schemas";
import { pushFrames } from "../shared/realtime/realtime";

type SendInput = z.output<typeof MessageCreate>;

/**
 * Whether the send is its one statement, the sender's budgets spent by it: no reply to look up, no
 * key to claim, no files to check, and a sender not refused just now (see mayDeferSenderBudget).
 */
const isOneStatement = (input: SendInput, idempotencyKey: string | undefined, senderId: number) =>
  (input.in_reply_to ?? null) === null &&
  idempotencyKey === undefined &&
  (input.attachments ?? []).length === 0 &&
  getSendLimits().mayDeferSenderBudget(senderId);

const NO_FILES: ClaimedAttachments = { ids: [], replayOnly: false, release: async () => {} };

/**
 * A send that did not ride on the lookup: the sender's budgets first unless its statement spends
 * them, the message replied to, the files checked against storage (422 naming one, or 503, and
 * nothing stored), then the send, in a transaction with the files' attaching when there are any.
 */
async function sendAfterLookup(
  senderId: number,
  input: SendInput,
  recipients: readonly number[],
  idempotencyKey: string | undefined,
  oneStatement: boolean,
): Promise<{ sent: SendOutcome; files: ClaimedAttachments }> {
  const limits = getSendLimits();
  if (!oneStatement) await limits.spendSenderBudget(senderId, recipients.length);
  // A reply must name a message in the sender's own mailbox; it joins that message's thread.
  const replyTo = input.in_reply_to ?? null;
  const threadId = replyTo === null ? null : await threadOf(replyTo, senderId);
  if (replyTo !== null && threadId === null) throw new HttpError(404, ERRORS.messageNotFound);
  const files = await claimAttachments(senderId, input.attachments ?? [], getConfig().attachments, {
    idempotent: idempotencyKey !== undefined,
  });
  try {
    const sent = await sendMessage(
      senderId,
      { ...input, thread_id: threadId },
      {
        idempotencyKey,
        asked: input,
        recipientBudget: limits.recipientBudget(recipients),
        senderBudget: oneStatement ? limits.senderBudget(senderId, recipients.length) : undefined,
        // Only a send with files needs a transaction around its statement.
        onStored:
          files.ids.length === 0
            ? undefined
            : async (tx, messageId) => {
                if (files.replayOnly || !(await attachToMessage(tx, messageId, senderId, files.ids)))
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
    return { sent, files };
  } catch (error) {
    await files.release();
    throw error;
  }
}

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
  // A send of one statement rides on the statement that authenticates the request: one round trip.
  lookup: ({ headers, body: input }, senderId) => {
    const { recipients } = addressingOf(input);
    if (recipients.length > getConfig().maxRecipients || !isOneStatement(input, headers[IDEMPOTENCY_KEY_HEADER], senderId)) return null;
    const limits = getSendLimits();
    return sendRide(senderId, input, limits.recipientBudget(recipients), limits.senderBudget(senderId, recipients.length));
  },
  handler: async ({ context, user: sender, headers, body: input, found: rode }) => {
    const { recipients } = addressingOf(input);
    const { maxRecipients } = getConfig();
    if (recipients.length > maxRecipients)
      throw validationError([
        { type: "too_long", loc: ["body", "to"], msg: `At most ${maxRecipients} distinct recipients (to, cc and bcc together)` },
      ]);
    const idempotencyKey = headers[IDEMPOTENCY_KEY_HEADER];
    const limits = getSendLimits();
    // The sender's budgets (one point per recipient): by the send's own statement when it is all the
    // work, else first. A recipient's only once a message is stored for them.
    const oneStatement = rode !== null || isOneStatement(input, idempotencyKey, sender.id);
    const { sent, files } = rode
      ? { sent: rodeOutcome(sender.id, input, rode), files: NO_FILES }
      : await sendAfterLookup(sender.id, input, recipients, idempotencyKey, oneStatement);
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
