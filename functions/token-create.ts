import "../shared/config/startup";

import type { InvocationContext } from "@azure/functions";

import { bearerToken, unauthorized } from "../shared/auth/auth";
import { clientAddress } from "../shared/auth/client-address";
import { admitPasswordHashing, verifyPassword } from "../shared/auth/passwords";
import { logSecurityEvent, SECURITY_EVENTS } from "../shared/auth/security-events";
import { refreshSession, signIn, userAgentOf } from "../shared/auth/sessions";
import { getThrottle } from "../shared/auth/throttle";
import { findUserByUsername } from "../shared/data/users";
import { defineEndpoint } from "../shared/http/endpoint";
import { ERRORS } from "../shared/http/errors";
import { HttpError, ok } from "../shared/http/http";
import { LoginForm, Token } from "../shared/http/schemas";
import { closeSessionSockets } from "../shared/realtime/realtime";

/**
 * OAuth2 password flow, as the original's `/token`: a form in, a token pair out, and a new session.
 * The attempt is counted before the password is checked (429 past the limits; every attempt, right
 * or wrong, spends from the account's and the address's budgets), its failure counter forgiven when
 * it is right, and counted against the client's address when it is wrong. When password hashing is
 * past its budget the login is refused with 503 first of all, before any database work; one that
 * slips past that check and is refused by the hasher itself gets its attempt back.
 *
 * With grant_type=refresh_token, the refresh token is spent for the session's next pair; a spent
 * one presented again ends its session and closes its sockets.
 */
export const tokenCreate = defineEndpoint({
  name: "token-create",
  method: "POST",
  route: "token",
  summary: "Log in (OAuth2 password flow), or renew a session's tokens (grant_type=refresh_token)",
  auth: "none",
  body: { schema: LoginForm, media: "form" },
  response: Token,
  errors: [401, 429, 503],
  handler: async ({ request, context, body: form }) => {
    const address = clientAddress(request);
    if (form.grant_type === "refresh_token") return refresh(form.refresh_token ?? "", bearerToken(request), address, context);
    await admitPasswordHashing(address);
    const username = (form.username ?? "").trim();
    const attempt = await getThrottle()
      .beginLogin(address, username)
      .catch((error: unknown) => {
        if (error instanceof HttpError && error.status === 429)
          logSecurityEvent(context, { event: SECURITY_EVENTS.loginThrottled, user_id: null, session_id: null, client_address: address });
        throw error;
      });
    const user = await findUserByUsername(username);
    const valid = await verifyPassword(form.password ?? "", user?.hashed_password ?? null, address).catch(async (error: unknown) => {
      if (error instanceof HttpError && error.status === 503) await attempt.abandoned();
      throw error;
    });
    if (!user || !valid) {
      await attempt.failed();
      logSecurityEvent(context, {
        event: SECURITY_EVENTS.loginFailed,
        user_id: user?.id ?? null,
        session_id: null,
        client_address: address,
      });
      throw unauthorized(ERRORS.incorrectLogin);
    }
    await attempt.succeeded();
    const session = await signIn({ id: user.id, username: user.username }, userAgentOf(request));
    logSecurityEvent(context, {
      event: SECURITY_EVENTS.loginSucceeded,
      user_id: user.id,
      session_id: session.sessionId,
      client_address: address,
    });
    return ok(session.tokens);
  },
});

async function refresh(presented: string, accessToken: string | undefined, address: string, context: InvocationContext) {
  const outcome = await refreshSession(presented, accessToken);
  if (outcome.kind === "refreshed") return ok(outcome.tokens);
  if (outcome.kind !== "unknown") {
    if (outcome.kind === "reused")
      logSecurityEvent(context, {
        event: SECURITY_EVENTS.refreshReused,
        user_id: outcome.userId,
        session_id: outcome.sessionId,
        client_address: address,
      });
    await closeSessionSockets([outcome.sessionId], ERRORS.sessionEnded, context);
  }
  throw unauthorized(ERRORS.invalidRefreshToken);
}
