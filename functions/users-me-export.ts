import "../shared/http/startup";

import { Readable } from "node:stream";

import { unauthorized } from "../shared/auth/auth";
import { openExport } from "../shared/data/account-export";
import { findAccount } from "../shared/data/users";
import { ERRORS } from "../shared/domain/errors";
import { defineEndpoint } from "../shared/http/endpoint";
import { AccountExport } from "../shared/http/schemas";

/**
 * A download of everything the account holds: the account and every copy in its mailbox, every
 * folder, attachments listed. Streamed page by page: memory stays flat however large the mailbox.
 */
export const usersMeExport = defineEndpoint({
  name: "users-me-export",
  method: "GET",
  route: "users/me/export",
  summary: "Download your data: the account and every message in every folder (streamed JSON)",
  auth: "bearer",
  response: AccountExport,
  handler: async ({ user }) => {
    const account = await findAccount(user.id);
    if (!account) throw unauthorized(ERRORS.badCredentials);
    return {
      status: 200,
      headers: {
        "Content-Type": "application/json; charset=utf-8",
        "Content-Disposition": `attachment; filename="mail-export-${account.id}.json"`,
        "Cache-Control": "no-store",
      },
      body: Readable.from(await openExport(account)),
    };
  },
});
