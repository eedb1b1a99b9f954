import "../shared/startup";
import { app, type HttpRequest } from "@azure/functions";
import { authenticate } from "../shared/auth";
import { endpoint, ok } from "../shared/http";
import { listInbox } from "../shared/messages";
import { readQuery } from "../shared/request";
import { InboxQuery } from "../shared/schemas";

export const inbox = endpoint(async (request: HttpRequest) => {
  const user = await authenticate(request);
  const query = readQuery(request, InboxQuery);
  return ok(await listInbox(user.id, query));
});

app.http("messages-inbox", { route: "messages/inbox", methods: ["GET"], authLevel: "anonymous", handler: inbox });
