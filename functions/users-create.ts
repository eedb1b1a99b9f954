import "../shared/startup";
import { app, type HttpRequest } from "@azure/functions";
import { clientAddress } from "../shared/client-address";
import { ERRORS } from "../shared/errors";
import { endpoint, HttpError, ok } from "../shared/http";
import { hashPassword } from "../shared/passwords";
import { readJson } from "../shared/request";
import { UserCreate } from "../shared/schemas";
import { getThrottle } from "../shared/throttle";
import { createUser, UsernameTakenError } from "../shared/users";

export const registerUser = endpoint(async (request: HttpRequest) => {
  const input = await readJson(request, UserCreate);
  // Counted once the request is valid and before the costly hash: 429 past the per-address limit.
  await getThrottle().countRegistration(clientAddress(request));
  try {
    return ok(await createUser(input.username, await hashPassword(input.password)));
  } catch (error) {
    if (error instanceof UsernameTakenError) throw new HttpError(400, ERRORS.usernameTaken);
    throw error;
  }
});

app.http("users-create", { route: "users", methods: ["POST"], authLevel: "anonymous", handler: registerUser });
