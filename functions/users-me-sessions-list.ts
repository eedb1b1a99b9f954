import "../shared/http/startup";

import { getConfig } from "../shared/config/config";
import { listSessions } from "../shared/data/sessions";
import { defineEndpoint } from "../shared/http/endpoint";
import { ok } from "../shared/http/http";
import { SessionList } from "../shared/http/schemas";

/** The account's live sessions (one per login), most recently used first. */
export const usersMeSessionsList = defineEndpoint({
  name: "users-me-sessions-list",
  method: "GET",
  route: "users/me/sessions",
  summary: "Your sessions (devices signed in), the current one marked",
  auth: "bearer",
  response: SessionList,
  handler: async ({ user }) => {
    const sessions = await listSessions(user.id, getConfig().sessionIdleDays);
    return ok(
      sessions.map((s) => ({
        id: s.id,
        created_at: s.created_at.toISOString(),
        last_used_at: s.last_used_at.toISOString(),
        user_agent: s.user_agent,
        current: s.id === user.sessionId,
      })),
    );
  },
});
