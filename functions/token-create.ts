import "../shared/http/startup";

import { unauthorized } from "../shared/auth/auth";
import { clientAddress } from "../shared/auth/client-address";
import { admitPasswordHashing, verifyPassword } from "../shared/auth/passwords";
import { getThrottle } from "../shared/auth/throttle";
import { issueAccessToken } from "../shared/auth/tokens";
import { findUserByUsername } from "../shared/data/users";
import { ERRORS } from "../shared/domain/errors";
import { defineEndpoint } from "../shared/http/endpoint";
import { HttpError, ok } from "../shared/http/http";
import { LoginForm, Token } from "../shared/http/schemas";

/**
 * OAuth2 password flow, as the original's `/token`: a form in, a bearer token out. The attempt
 * is counted before the password is checked (429 past the limits; every attempt, right or wrong,
 * spends from the account's and the address's budgets), its failure counter forgiven when it is
 * right, and counted against the client's address when it is wrong. When password hashing is past its
 * budget the login is refused with 503 first of all, before any database work; one that slips past
 * that check and is refused by the hasher itself gets its attempt back.
 */
export const tokenCreate = defineEndpoint({
  name: "token-create",
  method: "POST",
  route: "token",
  summary: "Log in (OAuth2 password flow)",
  auth: "none",
  body: { schema: LoginForm, media: "form" },
  response: Token,
  errors: [401, 429, 503],
  handler: async ({ request, body: form }) => {
    const address = clientAddress(request);
    await admitPasswordHashing(address);
    const username = form.username.trim();
    const attempt = await getThrottle().beginLogin(address, username);
    const user = await findUserByUsername(username);
    const valid = await verifyPassword(form.password, user?.hashed_password ?? null, address).catch(async (error: unknown) => {
      if (error instanceof HttpError && error.status === 503) await attempt.abandoned();
      throw error;
    });
    if (!user || !valid) {
      await attempt.failed();
      throw unauthorized(ERRORS.incorrectLogin);
    }
    await attempt.succeeded();
    return ok({ access_token: issueAccessToken(user), token_type: "bearer" });
  },
});
