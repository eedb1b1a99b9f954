import "../shared/config/startup";
import { defineEndpoint } from "../shared/http/endpoint";
import { ok } from "../shared/http/http";
import { UserList, UsersQuery } from "../shared/http/schemas";
import { listOtherUsers } from "../shared/data/users";

/** Everyone but the caller, by username: the recipients a client can pick from. */
export const listUsers = defineEndpoint({
  name: "users-list",
  method: "GET",
  route: "users",
  trailingSlash: true,
  summary: "Other users, by username",
  auth: "bearer",
  query: UsersQuery,
  response: UserList,
  handler: async ({ user, query }) => ok(await listOtherUsers(user.id, query)),
});
