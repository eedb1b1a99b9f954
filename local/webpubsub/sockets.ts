/**
 * The client endpoint, `GET /client/hubs/{hub}`: the token is checked at the handshake and
 * only there (the service does not close a socket when its token later expires).
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer } from "ws";
import { requestUrl } from "../request-url";
import { handleClientFrame } from "./client-protocol";
import { HUB_NAME, JSON_SUBPROTOCOL, sendFrame, type Connection, type ConnectionRegistry } from "./connections";
import { bearerToken, verifyClientToken } from "./tokens";

const CLIENT_PATH = /^\/client\/hubs\/([^/]+)\/?$/;
const MAX_FRAME_BYTES = 1024 * 1024;

export interface SocketEvents {
  opened(connection: Connection): void;
  closed(connection: Connection, reason: string): void;
}

export interface ClientEndpoint {
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Drops every connection at once, without close handshakes that could keep `close()` waiting. */
  terminateAll(): void;
}

function refuse(socket: Duplex, status: 400 | 401 | 404, reason: string): void {
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

function describeClose(code: number, reason: Buffer): string {
  const text = reason.toString();
  if (text) return text;
  return code === 1000 || code === 1001 || code === 1005 ? "" : `Connection closed with code ${code}.`;
}

export function createClientEndpoint(registry: ConnectionRegistry, accessKey: string, events: SocketEvents): ClientEndpoint {
  const server = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    maxPayload: MAX_FRAME_BYTES,
    // Plain sockets (no subprotocol) and `json.webpubsub.azure.v1` are what this stand-in speaks.
    handleProtocols: (offered) => (offered.has(JSON_SUBPROTOCOL) ? JSON_SUBPROTOCOL : false),
  });

  function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // The HTTP server stops watching an upgraded socket's errors; a reset during refusal must not crash the process.
    socket.on("error", () => socket.destroy());
    const url = requestUrl(req, "stand-in").url;
    if (!url) return refuse(socket, 400, "Bad Request");
    const hub = decodeSegment(CLIENT_PATH.exec(url.pathname)?.[1]);
    if (!hub || !HUB_NAME.test(hub)) return refuse(socket, 404, "Not Found");
    const token = url.searchParams.get("access_token") ?? bearerToken(req.headers.authorization);
    const identity = token ? verifyClientToken(token, accessKey, hub) : null;
    if (!identity) return refuse(socket, 401, "Unauthorized");

    server.handleUpgrade(req, socket, head, (ws) => {
      const connection = registry.add({ hub, ...identity, subprotocol: ws.protocol || undefined, socket: ws });
      sendFrame(connection, { type: "system", event: "connected", userId: connection.userId ?? null, connectionId: connection.id });
      ws.on("message", (data) => {
        // A plain socket's messages would go to a user-event handler, which this project's hub does not configure.
        if (connection.subprotocol !== JSON_SUBPROTOCOL) return;
        // Binary frames on the JSON subprotocol carry UTF-8 JSON as text frames do.
        const raw = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
        handleClientFrame(connection, registry, raw.toString("utf8"));
      });
      ws.on("error", () => ws.terminate());
      ws.once("close", (code, reason) => {
        registry.remove(connection.id);
        events.closed(connection, describeClose(code, reason));
      });
      events.opened(connection);
    });
  }

  return {
    handleUpgrade,
    terminateAll() {
      for (const connection of registry.all()) connection.socket.terminate();
      server.close();
    },
  };
}

function decodeSegment(segment: string | undefined): string | undefined {
  if (segment === undefined) return undefined;
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}
