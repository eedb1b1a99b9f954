import "../shared/http/startup";

import { clientAddress } from "../shared/auth/client-address";
import { confirmPassword } from "../shared/auth/confirm-password";
import { securityLog } from "../shared/auth/security-log";
import { deleteAccount } from "../shared/data/account-deletion";
import { ERRORS } from "../shared/domain/errors";
import { deleteQueuedBlobsAfterCommit } from "../shared/http/attachment-cleanup";
import { defineEndpoint } from "../shared/http/endpoint";
import { HttpError } from "../shared/http/http";
import { AccountDeletion } from "../shared/http/schemas";
import { closeUserSockets } from "../shared/realtime/realtime";

/**
 * Deletes the caller's account, confirmed by its password (checked and counted as a login): its
 * copies leave every folder, every session ends and every socket closes; what it sent stays with
 * its recipients as from "deleted user", and its name is never given to anyone else.
 */
export const usersMeDelete = defineEndpoint({
  name: "users-me-delete",
  method: "DELETE",
  route: "users/me",
  summary: "Delete your account (confirmed by your password)",
  auth: "bearer",
  body: { schema: AccountDeletion, media: "json" },
  response: null,
  errors: [400, 429, 503],
  handler: async ({ request, context, user, body }) => {
    const actor = { userId: user.id, sessionId: user.sessionId, address: clientAddress(request) };
    if (!(await confirmPassword(request, user.id, body.password))) {
      securityLog.accountDeletionFailed(context, actor);
      throw new HttpError(400, ERRORS.passwordIncorrect);
    }
    const deleted = await deleteAccount(user.id);
    if (deleted) {
      securityLog.accountDeleted(context, actor, deleted.sessions.length);
      await closeUserSockets(user.id, ERRORS.accountDeleted, context);
      // Messages erased with the account's last copies took their attachments' blobs along (the sweep retries).
      await deleteQueuedBlobsAfterCommit(context);
    }
    return { status: 204 };
  },
});
