/**
 * A local stand-in for Azure Web PubSub that the real `@azure/web-pubsub` SDK and plain
 * WebSocket clients talk to unchanged. Local development and tests only.
 */
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { WebSocketServer } from "ws";
import { handleClientFrame } from "./client-protocol";
import { ConnectionRegistry, deliver, JSON_SUBPROTOCOL } from "./connections";
import { handleRest } from "./rest";
import { verifyClientToken } from "./tokens";
import { postSystemEvent } from "./upstream";

export interface WebPubSubStandInOptions {
  host?: string;
  /** 0 picks a free port. */
  port: number;
  /** The AccessKey of the connection string. */
  accessKey: string;
  /** Where to POST a hub's system events (connected, disconnected); undefined for nowhere. */
  eventHandlerUrl?: (hub: string) => string | undefined;
  /** Delay before answering REST calls, to test a slow service. */
  restDelayMs?: number;
  log?: (line: string) => void;
}

export interface WebPubSubStandIn {
  readonly port: number;
  readonly endpoint: string;
  readonly connectionString: string;
  setRestDelay(ms: number): void;
  /** Pushes data straight to a user's sockets, bypassing REST: the benchmark's floor. */
  sendToUserDirect(hub: string, userId: string, data: unknown): number;
  connectionCount(hub?: string): number;
  close(): Promise<void>;
}

const CLIENT_PATH = /^\/client\/hubs\/([A-Za-z][A-Za-z0-9_]*)\/?$/;

function refuse(socket: Socket, status: number, reason: string): void {
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

export function startWebPubSubStandIn(options: WebPubSubStandInOptions): Promise<WebPubSubStandIn> {
  const host = options.host ?? "127.0.0.1";
  const log = options.log ?? (() => {});
  const registry = new ConnectionRegistry();
  let restDelayMs = options.restDelayMs ?? 0;
  let endpoint = "";

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", `http://${req.headers.host ?? host}`);
    handleRest({ registry, accessKey: options.accessKey, restDelayMs: () => restDelayMs }, req, res, url).catch((error: Error) => {
      log(`web pubsub stand-in: REST ${req.method} ${url.pathname} failed: ${error.message}`);
      if (!res.headersSent) res.writeHead(500).end();
    });
  });

  const sockets = new WebSocketServer({
    noServer: true,
    maxPayload: 1024 * 1024,
    handleProtocols: (offered) => (offered.has(JSON_SUBPROTOCOL) ? JSON_SUBPROTOCOL : false),
  });

  server.on("upgrade", (req, socket: Socket, head) => {
    const url = new URL(req.url ?? "/", `http://${req.headers.host ?? host}`);
    const hub = CLIENT_PATH.exec(url.pathname)?.[1];
    if (!hub) return refuse(socket, 404, "Not Found");
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? "")?.[1];
    const token = url.searchParams.get("access_token") ?? bearer;
    const claims = token ? verifyClientToken(token, options.accessKey, endpoint, hub) : null;
    if (!claims) return refuse(socket, 401, "Unauthorized");
    sockets.handleUpgrade(req, socket, head, (ws) => {
      const connection = registry.add({ hub, userId: claims.userId, roles: claims.roles, groups: claims.groups, subprotocol: ws.protocol || undefined, socket: ws });
      if (connection.subprotocol === JSON_SUBPROTOCOL) {
        ws.send(JSON.stringify({ type: "system", event: "connected", userId: connection.userId ?? null, connectionId: connection.id }));
      }
      ws.on("message", (data, isBinary) => {
        if (!isBinary && connection.subprotocol === JSON_SUBPROTOCOL) handleClientFrame(connection, registry, data.toString());
      });
      ws.on("error", () => ws.terminate());
      ws.on("close", (code) => {
        registry.remove(connection.id);
        void postSystemEvent(upstream, connection, "disconnected", { reason: code === 1000 ? "" : `closed with code ${code}` });
      });
      void postSystemEvent(upstream, connection, "connected", {});
    });
  });

  const upstream = { accessKey: options.accessKey, get endpoint() { return endpoint; }, eventHandlerUrl: options.eventHandlerUrl, log };

  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, host, () => {
      const { port } = server.address() as AddressInfo;
      endpoint = `http://${host}:${port}`;
      resolve({
        port,
        endpoint,
        connectionString: `Endpoint=http://${host};Port=${port};AccessKey=${options.accessKey};Version=1.0;`,
        setRestDelay: (ms) => {
          restDelayMs = ms;
        },
        sendToUserDirect: (hub, userId, data) => {
          const targets = registry.ofUser(hub, userId);
          const text = JSON.stringify(data);
          for (const connection of targets) deliver(connection, { dataType: "json", data, text });
          return targets.length;
        },
        connectionCount: (hub) => (hub ? registry.inHub(hub).length : registry.all().length),
        close: () =>
          new Promise<void>((done) => {
            for (const connection of registry.all()) connection.socket.terminate();
            sockets.close();
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}
