import "../shared/http/startup";

import { clientAddress } from "../shared/auth/client-address";
import { refuseCommonPassword } from "../shared/auth/common-passwords";
import { admitPasswordHashing, hashPassword } from "../shared/auth/passwords";
import { securityLog } from "../shared/auth/security-log";
import { getThrottle } from "../shared/auth/throttle";
import { createUser } from "../shared/data/users";
import { ERRORS } from "../shared/domain/errors";
import { defineEndpoint } from "../shared/http/endpoint";
import { HttpError, ok } from "../shared/http/http";
import { UserCreate, UserPublic } from "../shared/http/schemas";

export const usersCreate = defineEndpoint({
  name: "users-create",
  method: "POST",
  route: "users",
  trailingSlash: true,
  summary: "Register a user",
  auth: "none",
  body: { schema: UserCreate, media: "json" },
  response: UserPublic,
  errors: [400, 429, 503],
  handler: async ({ request, context, body }) => {
    // Part of validating the request: a 422 before anything is counted, hashed or written.
    await refuseCommonPassword(body.password, "password");
    const address = clientAddress(request);
    await admitPasswordHashing(address); // hashing past its budget: 503 before anything is counted or written
    // Counted once the request is valid and before the costly hash: 429 past the per-address limit.
    await getThrottle()
      .countRegistration(address)
      .catch((error: unknown) => {
        if (error instanceof HttpError && error.status === 429) {
          securityLog.registrationThrottled(context, address, Number(error.headers["Retry-After"]));
        }
        throw error;
      });
    const created = await createUser(body.username, await hashPassword(body.password, address));
    if (created.kind === "username_taken") throw new HttpError(400, ERRORS.usernameTaken);
    return ok(created.user);
  },
});
