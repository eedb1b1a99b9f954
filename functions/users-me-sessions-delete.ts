import "../shared/http/startup";

import { clientAddress } from "../shared/auth/client-address";
import { securityLog } from "../shared/auth/security-log";
import { endAllSessions } from "../shared/data/sessions";
import { ERRORS } from "../shared/domain/errors";
import { defineEndpoint } from "../shared/http/endpoint";
import { closeUserSockets } from "../shared/realtime/realtime";

/** Signs out everywhere, the caller included: every session's tokens are refused, every socket closed. */
export const usersMeSessionsDelete = defineEndpoint({
  name: "users-me-sessions-delete",
  method: "DELETE",
  route: "users/me/sessions",
  summary: "Sign out everywhere (every session, this one included)",
  auth: "bearer",
  response: null,
  handler: async ({ request, context, user }) => {
    const ended = await endAllSessions(user.id);
    securityLog.signedOutEverywhere(context, { userId: user.id, sessionId: user.sessionId, address: clientAddress(request) }, ended.length);
    await closeUserSockets(user.id, ERRORS.sessionEnded, context);
    return { status: 204 };
  },
});
