import "../shared/startup";
import { app, type HttpRequest } from "@azure/functions";
import { authenticate } from "../shared/auth";
import { endpoint, ok } from "../shared/http";
import { listOutbox } from "../shared/messages";
import { readQuery } from "../shared/request";
import { OutboxQuery } from "../shared/schemas";

export const outbox = endpoint(async (request: HttpRequest) => {
  const user = await authenticate(request);
  const query = readQuery(request, OutboxQuery);
  return ok(await listOutbox(user.id, query));
});

app.http("messages-outbox", { route: "messages/outbox", methods: ["GET"], authLevel: "anonymous", handler: outbox });
