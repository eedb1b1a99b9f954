import "../shared/startup";
import { ERRORS } from "../shared/errors";
import { unauthorized } from "../shared/auth";
import { clientAddress } from "../shared/client-address";
import { defineEndpoint } from "../shared/endpoint";
import { ok } from "../shared/http";
import { verifyPassword } from "../shared/passwords";
import { LoginForm, Token } from "../shared/schemas";
import { getThrottle } from "../shared/throttle";
import { issueAccessToken } from "../shared/tokens";
import { findUserByUsername } from "../shared/users";

/**
 * OAuth2 password flow, as the original's `/token`: a form in, a bearer token out. The attempt
 * is counted before the password is checked (429 past the limits), forgiven when it is right,
 * and counted against the client's address when it is wrong.
 */
export const createToken = defineEndpoint({
  name: "token-create",
  method: "POST",
  route: "token",
  summary: "Log in (OAuth2 password flow)",
  auth: "none",
  body: { schema: LoginForm, media: "form" },
  response: Token,
  errors: [401, 429, 503],
  handler: async ({ request, body: form }) => {
    const username = form.username.trim();
    const attempt = await getThrottle().beginLogin(clientAddress(request), username);
    const user = await findUserByUsername(username);
    const valid = await verifyPassword(form.password, user?.hashed_password ?? null);
    if (!user || !valid) {
      await attempt.failed();
      throw unauthorized(ERRORS.incorrectLogin);
    }
    await attempt.succeeded();
    return ok({ access_token: issueAccessToken(user), token_type: "bearer" });
  },
});
