import "../shared/startup";
import { app, type HttpRequest } from "@azure/functions";
import { authenticate } from "../shared/auth";
import { endpoint, json } from "../shared/http";
import { listInbox } from "../shared/messages";
import { nextPageHeaders } from "../shared/paging";
import { readQuery } from "../shared/request";
import { InboxQuery } from "../shared/schemas";

export const inbox = endpoint(async (request: HttpRequest) => {
  const user = await authenticate(request);
  const query = readQuery(request, InboxQuery);
  const page = await listInbox(user.id, query);
  return json(200, page, nextPageHeaders(request.url, page, query.limit));
});

app.http("messages-inbox", { route: "messages/inbox", methods: ["GET"], authLevel: "anonymous", handler: inbox });
