import "../shared/startup";
import { app, type HttpRequest } from "@azure/functions";
import { ERRORS } from "../shared/errors";
import { endpoint, HttpError, ok } from "../shared/http";
import { hashPassword } from "../shared/passwords";
import { readJson } from "../shared/request";
import { UserCreate } from "../shared/schemas";
import { createUser, UsernameTakenError } from "../shared/users";

export const registerUser = endpoint(async (request: HttpRequest) => {
  const input = await readJson(request, UserCreate);
  try {
    return ok(await createUser(input.username, await hashPassword(input.password)));
  } catch (error) {
    if (error instanceof UsernameTakenError) throw new HttpError(400, ERRORS.usernameTaken);
    throw error;
  }
});

app.http("users-create", { route: "users", methods: ["POST"], authLevel: "anonymous", handler: registerUser });
