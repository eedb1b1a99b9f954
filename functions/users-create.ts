import "../shared/startup";
import { clientAddress } from "../shared/client-address";
import { defineEndpoint } from "../shared/endpoint";
import { ERRORS } from "../shared/errors";
import { HttpError, ok } from "../shared/http";
import { hashPassword } from "../shared/passwords";
import { UserCreate, UserPublic } from "../shared/schemas";
import { getThrottle } from "../shared/throttle";
import { createUser, UsernameTakenError } from "../shared/users";

export const registerUser = defineEndpoint({
  name: "users-create",
  method: "POST",
  route: "users",
  trailingSlash: true,
  summary: "Register a user",
  auth: "none",
  body: { schema: UserCreate, media: "json" },
  response: UserPublic,
  errors: [400, 429, 503],
  handler: async ({ request, body: input }) => {
    // Counted once the request is valid and before the costly hash: 429 past the per-address limit.
    await getThrottle().countRegistration(clientAddress(request));
    try {
      return ok(await createUser(input.username, await hashPassword(input.password)));
    } catch (error) {
      if (error instanceof UsernameTakenError) throw new HttpError(400, ERRORS.usernameTaken);
      throw error;
    }
  },
});
