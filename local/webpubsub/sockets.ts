/**
 * The client endpoint, `GET /client/hubs/{hub}`: the token is checked at the handshake and
 * only there (the service does not close a socket when its token later expires). A reliable
 * client whose socket dropped comes back here with `awps_connection_id` and
 * `awps_reconnection_token` instead of a token, to the same session.
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type WebSocket from "ws";
import { WebSocketServer } from "ws";

import { decodeSegment, requestUrl } from "../request-url";
import { handleClientFrame } from "./client-protocol";
import { HUB_NAME, sendFrame, SUBPROTOCOLS, type Connection, type ConnectionRegistry } from "./connections";
import { bearerToken, verifyClientToken } from "./tokens";

const CLIENT_PATH = /^\/client\/hubs\/([^/]+)\/?$/;
const MAX_FRAME_BYTES = 1024 * 1024;

export interface SocketEvents {
  opened(connection: Connection): void;
}

/** Close codes by which a client says it is done, as opposed to a connection that dropped. */
const DELIBERATE_CLOSE = new Set([1000, 1001, 1005]);
const SESSION_GONE = "The connection session is gone; connect again with a new access token.";

export interface ClientEndpoint {
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Drops every connection at once, without close handshakes that could keep `close()` waiting. */
  terminateAll(): void;
}

function refuse(socket: Duplex, status: 400 | 401 | 404, reason: string): void {
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

/** A reconnection request: the session's id and token, or null for a new connection. */
function reconnectionOf(url: URL): { connectionId: string; token: string } | null {
  const connectionId = url.searchParams.get("awps_connection_id");
  if (connectionId === null) return null;
  return { connectionId, token: url.searchParams.get("awps_reconnection_token") ?? "" };
}

function describeClose(code: number, reason: Buffer): string {
  const text = reason.toString();
  if (text) return text;
  return DELIBERATE_CLOSE.has(code) ? "" : `Connection closed with code ${code}.`;
}

export function createClientEndpoint(registry: ConnectionRegistry, accessKey: string, events: SocketEvents): ClientEndpoint {
  const server = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    maxPayload: MAX_FRAME_BYTES,
    // Plain sockets (no subprotocol) and the two JSON subprotocols are what this stand-in speaks.
    handleProtocols: (offered) => SUBPROTOCOLS.find((protocol) => offered.has(protocol)) ?? false,
  });

  /** Frames, drops and closes of one socket of a connection; a socket replaced by a reconnection no longer counts. */
  function attach(connection: Connection, ws: WebSocket): void {
    connection.socket = ws;
    ws.on("message", (data) => {
      // A plain socket's messages would go to a user-event handler, which this project's hub does not configure.
      if (!connection.subprotocol || connection.socket !== ws) return;
      // Binary frames on the JSON subprotocols carry UTF-8 JSON as text frames do.
      const raw = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      handleClientFrame(connection, registry, raw.toString("utf8"));
    });
    ws.on("error", () => ws.terminate());
    ws.once("close", (code, reason) => {
      if (connection.socket !== ws || !registry.has(connection)) return;
      const session = connection.session;
      if (session && !DELIBERATE_CLOSE.has(code)) session.park(() => registry.end(connection, "The client did not reconnect in time."));
      else registry.end(connection, describeClose(code, reason));
    });
  }

  function reconnect(ws: WebSocket, hub: string, request: { connectionId: string; token: string }): void {
    const connection = registry.get(hub, request.connectionId);
    const session = connection?.session;
    // As the service: the handshake succeeds and close code 1008 tells the client to stop retrying.
    if (!connection || !session || !session.matches(request.token) || ws.protocol !== connection.subprotocol) {
      ws.on("error", () => ws.terminate());
      return ws.close(1008, SESSION_GONE);
    }
    session.resume();
    const previous = connection.socket;
    attach(connection, ws);
    // The client gave up on its old socket; the service may not have noticed yet.
    previous.terminate();
    sendFrame(connection, {
      type: "system",
      event: "connected",
      userId: connection.userId ?? null,
      connectionId: connection.id,
      reconnectionToken: session.reconnectionToken,
    });
    for (const text of session.pending()) ws.send(text);
  }

  function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // The HTTP server stops watching an upgraded socket's errors; a reset during refusal must not crash the process.
    socket.on("error", () => socket.destroy());
    const url = requestUrl(req, "stand-in").url;
    if (!url) return refuse(socket, 400, "Bad Request");
    const segment = CLIENT_PATH.exec(url.pathname)?.[1];
    const hub = segment === undefined ? null : decodeSegment(segment);
    if (!hub || !HUB_NAME.test(hub)) return refuse(socket, 404, "Not Found");
    const reconnection = reconnectionOf(url);
    if (reconnection) return server.handleUpgrade(req, socket, head, (ws) => reconnect(ws, hub, reconnection));
    const token = url.searchParams.get("access_token") ?? bearerToken(req.headers.authorization);
    const identity = token ? verifyClientToken(token, accessKey, hub) : null;
    if (!identity) return refuse(socket, 401, "Unauthorized");

    server.handleUpgrade(req, socket, head, (ws) => {
      const connection = registry.add({ hub, ...identity, subprotocol: ws.protocol || undefined, socket: ws });
      attach(connection, ws);
      const reconnectionToken = connection.session?.reconnectionToken;
      sendFrame(connection, {
        type: "system",
        event: "connected",
        userId: connection.userId ?? null,
        connectionId: connection.id,
        ...(reconnectionToken ? { reconnectionToken } : {}),
      });
      events.opened(connection);
    });
  }

  return {
    handleUpgrade,
    terminateAll() {
      for (const connection of registry.all()) {
        registry.end(connection, "The service stopped.");
        connection.socket.terminate();
      }
      server.close();
    },
  };
}
