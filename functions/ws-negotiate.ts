import "../shared/http/startup";

import { unauthorized } from "../shared/auth/auth";
import { recordTokenExpiry } from "../shared/data/sockets";
import { ERRORS } from "../shared/domain/errors";
import { defineEndpoint } from "../shared/http/endpoint";
import { json, ok } from "../shared/http/http";
import { Negotiation } from "../shared/http/schemas";
import { clientAccessFor } from "../shared/realtime/realtime";
import { admitNegotiation } from "../shared/realtime/socket-limits";

/** Replaces the original `/ws/` socket: returns the Web PubSub URL this user's socket opens. */
export const wsNegotiate = defineEndpoint({
  name: "ws-negotiate",
  method: "GET",
  route: "ws",
  trailingSlash: true,
  summary: "Negotiate a realtime socket URL (auth by header or ?token=); 429 past the user's socket or negotiation limit",
  auth: "bearer-or-query",
  response: Negotiation,
  errors: [429, 503],
  handler: async ({ context, user }) => {
    await admitNegotiation(user.id);
    let access;
    try {
      access = await clientAccessFor(user.id, user.tokenExpiresAt, user.sessionId);
    } catch (error) {
      context.warn(`realtime negotiation failed: ${(error as Error).message}`);
      return json(503, { detail: ERRORS.realtimeUnavailable }, { "Retry-After": "5" });
    }
    // Under a minute left on the app token: a socket token cannot expire before it, so log in again.
    if (!access) throw unauthorized(ERRORS.badCredentials);
    // The sweep (functions/events-sweep.ts) closes this URL's sockets once it expires.
    await recordTokenExpiry(access.expiresAt);
    return ok({ url: access.url, expires_at: access.expiresAt.toISOString() });
  },
});
