import "../shared/startup";
import { app, type HttpRequest, type InvocationContext } from "@azure/functions";
import { authenticate, unauthorized } from "../shared/auth";
import { ERRORS } from "../shared/errors";
import { endpoint, json, ok } from "../shared/http";
import { clientAccessFor } from "../shared/realtime";

/** Replaces the original `/ws/` socket: returns the Web PubSub URL this user's socket opens. */
export const negotiate = endpoint(async (request: HttpRequest, context: InvocationContext) => {
  const user = await authenticate(request, { allowQuery: true });
  let access;
  try {
    access = await clientAccessFor(user.id, user.tokenExpiresAt);
  } catch (error) {
    context.warn(`realtime negotiation failed: ${(error as Error).message}`);
    return json(503, { detail: ERRORS.realtimeUnavailable }, { "Retry-After": "5" });
  }
  // Under a minute left on the app token: a socket token cannot expire before it, so log in again.
  if (!access) throw unauthorized(ERRORS.badCredentials);
  return ok({ url: access.url, expires_at: access.expiresAt.toISOString() });
});

app.http("ws-negotiate", { route: "ws", methods: ["GET"], authLevel: "anonymous", handler: negotiate });
