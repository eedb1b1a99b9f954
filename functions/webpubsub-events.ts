import "../shared/http/startup";

import type { InvocationContext } from "@azure/functions";

import { clientAddress } from "../shared/auth/client-address";
import { securityLog } from "../shared/auth/security-log";
import { getConfig } from "../shared/config/config";
import { connectSnapshotOf } from "../shared/data/event-log";
import { forgetConnection, recordConnection } from "../shared/data/sockets";
import { ERRORS } from "../shared/domain/errors";
import { connectSnapshot } from "../shared/domain/events";
import { defineEndpoint } from "../shared/http/endpoint";
import { runEventHandler } from "../shared/http/event-adapter";
import { HttpError, json } from "../shared/http/http";
import { isTrustedEventCaller } from "../shared/realtime/event-caller";
import { closeSocket, push } from "../shared/realtime/realtime";
import { forgetClosedConnections } from "../shared/realtime/socket-limits";

export const EVENTS_ROUTE = "webpubsub/events";

/**
 * A new socket takes one of the user's places and gets the current unread count and latest seq;
 * past the user's cap it is closed instead (a negotiated URL can open more than one socket).
 */
async function welcome(connectionId: string, userId: number, log: InvocationContext): Promise<void> {
  const max = getConfig().realtimeLimits.maxConnectionsPerUser;
  let recorded = await recordConnection(connectionId, userId, max);
  if (recorded === "over_limit") {
    await forgetClosedConnections(userId);
    recorded = await recordConnection(connectionId, userId, max);
  }
  if (recorded === "over_limit") {
    await closeSocket(connectionId, ERRORS.socketOverLimit, log);
    return;
  }
  const { unreadCount, latestSeq } = await connectSnapshotOf(userId);
  await push({ connectionId }, connectSnapshot(unreadCount, latestSeq), log);
}

/** Web PubSub's upstream: counts each user's sockets (connected, disconnected) and greets new ones. */
export const webpubsubEvents = defineEndpoint({
  name: "webpubsub-events",
  method: ["OPTIONS", "POST"],
  route: EVENTS_ROUTE,
  summary: "Web PubSub's event upstream",
  // The caller is Web PubSub itself, checked below (shared/realtime/event-caller.ts), not a user.
  auth: "none",
  document: false,
  handler: async ({ request, context }) => {
    const config = getConfig();
    if (!isTrustedEventCaller(request, config)) {
      securityLog.eventCallerRefused(context, clientAddress(request));
      throw new HttpError(401, ERRORS.eventCallerRejected);
    }
    const pending: Promise<unknown>[] = [];
    const answer = await runEventHandler(
      request,
      config.hub,
      `/${EVENTS_ROUTE}`,
      {
        onConnected: ({ context: connection }) => {
          const userId = Number(connection.userId);
          if (!Number.isSafeInteger(userId)) return;
          pending.push(
            welcome(connection.connectionId, userId, context).catch((error: Error) =>
              context.warn(`new connection ${connection.connectionId} failed: ${error.message}`),
            ),
          );
        },
        onDisconnected: ({ context: connection }) => {
          pending.push(
            forgetConnection(connection.connectionId).catch((error: Error) =>
              context.warn(`forgetting connection ${connection.connectionId} failed: ${error.message}`),
            ),
          );
        },
      },
      pending,
    );
    if (answer) return answer;
    // The package only answers a handshake that carries `ce-awpsversion`; the abuse-protection
    // spec requires just the origin header, so answer the bare form too.
    if (request.method === "OPTIONS" && request.headers.has("webhook-request-origin")) {
      return { status: 200, headers: { "WebHook-Allowed-Origin": "*" } };
    }
    return json(400, { detail: ERRORS.notHubEvent });
  },
});
