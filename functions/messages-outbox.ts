import "../shared/startup";
import { app, type HttpRequest } from "@azure/functions";
import { authenticate } from "../shared/auth";
import { endpoint, json } from "../shared/http";
import { listOutbox } from "../shared/messages";
import { nextPageHeaders } from "../shared/paging";
import { readQuery } from "../shared/request";
import { OutboxQuery } from "../shared/schemas";

export const outbox = endpoint(async (request: HttpRequest) => {
  const user = await authenticate(request);
  const query = readQuery(request, OutboxQuery);
  const page = await listOutbox(user.id, query);
  return json(200, page, nextPageHeaders(request.url, page, query.limit));
});

app.http("messages-outbox", { route: "messages/outbox", methods: ["GET"], authLevel: "anonymous", handler: outbox });
