import "../shared/startup";
import { app, type HttpRequest } from "@azure/functions";
import { authenticate } from "../shared/auth";
import { endpoint, ok } from "../shared/http";
import { countUnread } from "../shared/messages";

export const unreadCount = endpoint(async (request: HttpRequest) => {
  const user = await authenticate(request);
  return ok({ unread_count: await countUnread(user.id) });
});

app.http("messages-unread-count", { route: "messages/unread_count", methods: ["GET"], authLevel: "anonymous", handler: unreadCount });
