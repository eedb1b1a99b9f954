import "../shared/http/startup";

import { getStateChangeLimits } from "../shared/auth/state-change-limits";
import { changeCopies } from "../shared/data/copy-changes";
import { ERRORS } from "../shared/domain/errors";
import { canBeId } from "../shared/domain/schemas";
import { defineEndpoint } from "../shared/http/endpoint";
import { HttpError, ok, validationError } from "../shared/http/http";
import { CopyQuery, Message, MessagePatch, MessagePath } from "../shared/http/schemas";
import { pushFrames } from "../shared/realtime/realtime";

/** Moves, stars or marks the caller's copy; the other parties' copies are theirs. */
export const messagesUpdate = defineEndpoint({
  name: "messages-update",
  method: "PATCH",
  route: "messages/{message_id}",
  summary: "Change your copy of a message: folder, star, read state",
  auth: "bearer",
  path: MessagePath,
  query: CopyQuery,
  body: { schema: MessagePatch, media: "json" },
  response: Message,
  errors: [404, 429],
  handler: async ({ context, user, path: { message_id }, query: { copy }, body }) => {
    // Counted first: every change pushes frames, which the service's Web PubSub quota pays for.
    await getStateChangeLimits().countChange(user.id);
    if (!canBeId(message_id)) throw new HttpError(404, ERRORS.messageNotFound);
    const outcome = await changeCopies(user.id, [message_id], body, { single: true, copy });
    if (outcome.kind === "bad_folder")
      throw validationError([
        {
          type: "enum",
          loc: ["body", "folder"],
          msg: `Input should be ${outcome.allowed.map((f) => `'${f}'`).join(" or ")} for this copy`,
        },
      ]);
    if (!outcome.message) throw new HttpError(404, ERRORS.messageNotFound);
    await pushFrames(outcome.frames, context);
    return ok(outcome.message);
  },
});
