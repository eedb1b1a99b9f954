import "../shared/http/startup";

import { mailboxCounts } from "../shared/data/messages";
import { defineEndpoint } from "../shared/http/endpoint";
import { ok } from "../shared/http/http";
import { MailboxCounts } from "../shared/http/schemas";

/** Read from counters kept in the transaction of every change: no scan of the mailbox. */
export const messagesCounts = defineEndpoint({
  name: "messages-counts",
  method: "GET",
  route: "messages/counts",
  trailingSlash: true,
  summary: "Total and unread copies per folder, and starred",
  auth: "bearer",
  response: MailboxCounts,
  handler: async ({ user }) => ok(await mailboxCounts(user.id)),
});
