import "../shared/http/startup";

import { clientAddress } from "../shared/auth/client-address";
import { securityLog } from "../shared/auth/security-log";
import { endSession } from "../shared/data/sessions";
import { ERRORS } from "../shared/domain/errors";
import { defineEndpoint } from "../shared/http/endpoint";
import { HttpError } from "../shared/http/http";
import { SessionPath } from "../shared/http/schemas";
import { closeSessionSockets } from "../shared/realtime/realtime";

/** Signs one session out (the caller's own included): its tokens are refused at once, its sockets closed. */
export const usersMeSessionDelete = defineEndpoint({
  name: "users-me-session-delete",
  method: "DELETE",
  route: "users/me/sessions/{session_id}",
  summary: "Sign one of your sessions out",
  auth: "bearer",
  path: SessionPath,
  response: null,
  errors: [404],
  handler: async ({ request, context, user, path: { session_id } }) => {
    if (!(await endSession(user.id, session_id))) throw new HttpError(404, ERRORS.sessionNotFound);
    securityLog.signedOut(context, { userId: user.id, sessionId: session_id, address: clientAddress(request) });
    await closeSessionSockets([session_id], ERRORS.sessionEnded, context);
    return { status: 204 };
  },
});
