import "../shared/http/startup";

import { getConfig } from "../shared/config/config";
import { listOtherUsers } from "../shared/data/users";
import { defineEndpoint } from "../shared/http/endpoint";
import { jsonText } from "../shared/http/http";
import { boundedList, nextLink } from "../shared/http/paging";
import { UserList, UsersQuery } from "../shared/http/schemas";

/**
 * Everyone but the caller, by username: the recipients a client can pick from. Bounded in bytes
 * like the message lists; a page that is full or cut there links on with `skip`.
 */
export const usersList = defineEndpoint({
  name: "users-list",
  method: "GET",
  route: "users",
  trailingSlash: true,
  summary: "Other users, by username",
  auth: "bearer",
  query: UsersQuery,
  response: UserList,
  responseHeaders: {
    Link: 'RFC 8288 `<...?skip=N&limit=L...>; rel="next"` when the page is full or reached the byte bound (LIST_MAX_BYTES)',
  },
  handler: async ({ request, user, query }) => {
    const users = await listOtherUsers(user.id, query);
    const answer = boundedList(users, getConfig().listMaxBytes);
    const more = answer.kept.length > 0 && (answer.cut || users.length >= query.limit);
    return jsonText(200, answer.body, more ? nextLink(request.url, { skip: query.skip + answer.kept.length, limit: query.limit }) : {});
  },
});
