import "../shared/http/startup";

import type { InvocationContext } from "@azure/functions";

import { bearerToken, unauthorized } from "../shared/auth/auth";
import { clientAddress } from "../shared/auth/client-address";
import { deviceCookie, issueDeviceToken, knownDevice, presentedDeviceToken } from "../shared/auth/device-tokens";
import { admitPasswordHashing, verifyPassword } from "../shared/auth/passwords";
import { securityLog } from "../shared/auth/security-log";
import { refreshSession, signIn, userAgentOf } from "../shared/auth/sessions";
import { getThrottle, loginAccountKey } from "../shared/auth/throttle";
import { findUserByUsername } from "../shared/data/users";
import { ERRORS } from "../shared/domain/errors";
import { defineEndpoint } from "../shared/http/endpoint";
import { HttpError, json, servedOverHttps } from "../shared/http/http";
import { LoginForm, Token } from "../shared/http/schemas";
import { closeSessionSockets } from "../shared/realtime/realtime";

/**
 * OAuth2 password flow, as the original's `/token`: a form in, a bearer token out. The name is
 * resolved to its account first, and the attempt counted against that account's budgets before
 * the password is checked (429 past the limits); a known device (the device token this endpoint
 * gave it, as a cookie or the `device_token` field) is counted by its own budget instead of the
 * account's. A correct password forgives the client's failure counter and renews its device
 * token; a wrong one counts against the client's address. When password hashing is past its
 * budget the login is refused with 503 first of all, before any database work; one that slips
 * past that check and is refused by the hasher itself gets its attempt back. Each login starts a
 * session (shared/auth/sessions.ts) and answers its first token pair.
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
  responseHeaders: { "Set-Cookie": "The device token as a cookie for the login path (`device`), for browsers" },
  errors: [401, 429, 503],
  handler: async ({ request, context, body: form }) => {
    const address = clientAddress(request);
    if (form.grant_type === "refresh_token") return refresh(form.refresh_token ?? "", bearerToken(request), address, context);
    await admitPasswordHashing(address);
    const username = (form.username ?? "").trim();
    const user = await findUserByUsername(username);
    const userId = user?.id ?? null;
    const device = user ? knownDevice(presentedDeviceToken(request, form.device_token), user.id) : null;
    const attempt = await getThrottle()
      .beginLogin({ address, account: loginAccountKey(userId, username), device })
      .catch((error: unknown) => {
        if (error instanceof HttpError && error.status === 429) {
          securityLog.loginThrottled(context, { userId, address }, Number(error.headers["Retry-After"]));
        }
        throw error;
      });
    const valid = await verifyPassword(form.password ?? "", user?.hashed_password ?? null, address).catch(async (error: unknown) => {
      if (error instanceof HttpError && error.status === 503) await attempt.abandoned();
      throw error;
    });
    if (!user || !valid) {
      await attempt.failed();
      securityLog.loginFailed(context, { userId, address });
      throw unauthorized(ERRORS.incorrectLogin);
    }
    await attempt.succeeded();
    const session = await signIn({ id: user.id, username: user.username }, userAgentOf(request));
    securityLog.loginSucceeded(
      context,
      { userId: user.id, sessionId: session.sessionId, address },
      device ? "password_known_device" : "password",
    );
    const deviceToken = issueDeviceToken(user.id, device ?? undefined);
    return json(
      200,
      { ...session.tokens, device_token: deviceToken },
      { "Set-Cookie": deviceCookie(deviceToken, servedOverHttps(request)) },
    );
  },
});

/** The refresh grant: a spent token presented again ends its session, whose sockets then close. */
async function refresh(presented: string, accessToken: string | undefined, address: string, context: InvocationContext) {
  const outcome = await refreshSession(presented, accessToken);
  if (outcome.kind === "refreshed") return json(200, outcome.tokens);
  if (outcome.kind !== "unknown") {
    if (outcome.kind === "reused")
      securityLog.refreshTokenReused(context, { userId: outcome.userId, sessionId: outcome.sessionId, address });
    await closeSessionSockets([outcome.sessionId], ERRORS.sessionEnded, context);
  }
  throw unauthorized(ERRORS.invalidRefreshToken);
}
