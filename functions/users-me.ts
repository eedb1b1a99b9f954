import "../shared/http/startup";

import { defineEndpoint } from "../shared/http/endpoint";
import { ok } from "../shared/http/http";
import { Account } from "../shared/http/schemas";

export const usersMe = defineEndpoint({
  name: "users-me",
  method: "GET",
  route: "users/me",
  summary: "The signed-in account",
  auth: "bearer",
  response: Account,
  // Read by the lookup that authenticated the request: no query of its own.
  handler: async ({ user }) => ok({ id: user.id, username: user.username, created_at: user.createdAt?.toISOString() ?? null }),
});
