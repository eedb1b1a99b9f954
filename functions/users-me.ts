import "../shared/http/startup";

import { unauthorized } from "../shared/auth/auth";
import { findAccount } from "../shared/data/users";
import { ERRORS } from "../shared/domain/errors";
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
  handler: async ({ user }) => {
    const account = await findAccount(user.id);
    if (!account) throw unauthorized(ERRORS.badCredentials);
    return ok({ id: account.id, username: account.username, created_at: account.created_at?.toISOString() ?? null });
  },
});
