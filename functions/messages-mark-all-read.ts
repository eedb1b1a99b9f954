import "../shared/http/startup";

import { getStateChangeLimits } from "../shared/auth/state-change-limits";
import { markAllRead } from "../shared/data/mailbox";
import { defineEndpoint } from "../shared/http/endpoint";
import { ok } from "../shared/http/http";
import { MarkAllReadQuery, MarkAllReadResult } from "../shared/http/schemas";
import { pushFrames } from "../shared/realtime/realtime";

/** Marks the inbox read (up to `up_to_id`): one count for the recipient, one frame per sender. */
export const messagesMarkAllRead = defineEndpoint({
  // Sorts before "messages-mark-read", whose template also matches this path: the Functions
  // host tries routes in function-name order (test/unit/routes.test.ts).
  name: "messages-mark-all-read",
  method: "PUT",
  route: "messages/inbox/read",
  summary: "Mark every received message read (up to up_to_id)",
  auth: "bearer",
  query: MarkAllReadQuery,
  response: MarkAllReadResult,
  errors: [429],
  handler: async ({ context, user, query: { up_to_id } }) => {
    // Counted first: every change pushes frames, which the service's Web PubSub quota pays for.
    await getStateChangeLimits().countChange(user.id);
    const result = await markAllRead(user.id, up_to_id);
    await pushFrames(result.frames, context);
    return ok({ marked: result.marked });
  },
});
