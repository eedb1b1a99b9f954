import "../shared/http/startup";

import { clientAddress } from "../shared/auth/client-address";
import { refuseCommonPassword } from "../shared/auth/common-passwords";
import { confirmPassword } from "../shared/auth/confirm-password";
import { hashPassword } from "../shared/auth/passwords";
import { securityLog } from "../shared/auth/security-log";
import { changePassword, userAgentOf } from "../shared/auth/sessions";
import { ERRORS } from "../shared/domain/errors";
import { defineEndpoint } from "../shared/http/endpoint";
import { HttpError, ok } from "../shared/http/http";
import { PasswordChange, Token } from "../shared/http/schemas";
import { closeSessionSockets } from "../shared/realtime/realtime";

/**
 * Changes the password: the current one is checked as a login is (and counted by the same
 * throttles); every other session ends and its sockets close; the caller's session goes on with
 * the new token pair this answers.
 */
export const usersMePassword = defineEndpoint({
  name: "users-me-password",
  method: "PUT",
  route: "users/me/password",
  summary: "Change your password; every other session is signed out",
  auth: "bearer",
  body: { schema: PasswordChange, media: "json" },
  response: Token,
  errors: [400, 429, 503],
  handler: async ({ request, context, user, body }) => {
    await refuseCommonPassword(body.new_password, "new_password");
    const address = clientAddress(request);
    const actor = { userId: user.id, sessionId: user.sessionId, address };
    const account = await confirmPassword(request, user.id, body.current_password);
    if (!account) {
      securityLog.passwordChangeFailed(context, actor);
      throw new HttpError(400, ERRORS.currentPasswordIncorrect);
    }
    const hashed = await hashPassword(body.new_password, address);
    const changed = await changePassword(user, hashed, user.sessionId, userAgentOf(request));
    securityLog.passwordChanged(context, { ...actor, sessionId: changed.sessionId }, changed.ended.length);
    await closeSessionSockets(changed.ended, ERRORS.sessionEnded, context);
    return ok(changed.tokens);
  },
});
