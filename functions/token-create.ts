import "../shared/startup";
import { app, type HttpRequest } from "@azure/functions";
import { ERRORS } from "../shared/errors";
import { unauthorized } from "../shared/auth";
import { clientAddress } from "../shared/client-address";
import { endpoint, ok } from "../shared/http";
import { verifyPassword } from "../shared/passwords";
import { readForm } from "../shared/request";
import { LoginForm } from "../shared/schemas";
import { getThrottle } from "../shared/throttle";
import { issueAccessToken } from "../shared/tokens";
import { findUserByUsername } from "../shared/users";

/**
 * OAuth2 password flow, as the original's `/token`: a form in, a bearer token out. The attempt
 * is counted before the password is checked (429 past the limits), forgiven when it is right,
 * and counted against the client's address when it is wrong.
 */
export const createToken = endpoint(async (request: HttpRequest) => {
  const form = await readForm(request, LoginForm);
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
});

app.http("token-create", { route: "token", methods: ["POST"], authLevel: "anonymous", handler: createToken });
