import "../shared/startup";
import { app, type HttpRequest } from "@azure/functions";
import { authenticate } from "../shared/auth";
import { endpoint, ok } from "../shared/http";
import { readQuery } from "../shared/request";
import { UsersQuery } from "../shared/schemas";
import { listOtherUsers } from "../shared/users";

/** Everyone but the caller, by username: the recipients a client can pick from. */
export const listUsers = endpoint(async (request: HttpRequest) => {
  const user = await authenticate(request);
  const query = readQuery(request, UsersQuery);
  return ok(await listOtherUsers(user.id, query));
});

app.http("users-list", { route: "users", methods: ["GET"], authLevel: "anonymous", handler: listUsers });
