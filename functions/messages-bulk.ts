import "../shared/http/startup";

import { getStateChangeLimits } from "../shared/auth/state-change-limits";
import { changeCopies, deleteCopies } from "../shared/data/copy-changes";
import { defineEndpoint } from "../shared/http/endpoint";
import { ok, validationError } from "../shared/http/http";
import { BulkRequest, BulkResult } from "../shared/http/schemas";
import { pushFrames } from "../shared/realtime/realtime";

/** One change to many of the caller's copies, all in one transaction: all of it happens, or none. */
export const messagesBulk = defineEndpoint({
  name: "messages-bulk",
  method: "POST",
  route: "messages/bulk",
  summary: "Move, star, mark or delete many of your messages at once",
  auth: "bearer",
  body: { schema: BulkRequest, media: "json" },
  response: BulkResult,
  errors: [429],
  handler: async ({ context, user, body }) => {
    // One change, one count: it pushes one frame per device however many ids it names.
    await getStateChangeLimits().countChange(user.id);
    const ids = [...new Set(body.ids)];
    if (body.delete) {
      const deleted = await deleteCopies(user.id, ids, body.copy);
      await pushFrames(deleted.frames, context);
      return ok({ updated: deleted.deleted, not_found: deleted.notFound });
    }
    const outcome = await changeCopies(user.id, ids, body.set ?? {}, { copy: body.copy });
    if (outcome.kind === "bad_folder")
      throw validationError([
        {
          type: "enum",
          loc: ["body", "set", "folder"],
          msg: `Message ${outcome.messageId}: input should be ${outcome.allowed.map((f) => `'${f}'`).join(" or ")} for its copy`,
        },
      ]);
    await pushFrames(outcome.frames, context);
    return ok({ updated: outcome.updated, not_found: outcome.notFound });
  },
});
