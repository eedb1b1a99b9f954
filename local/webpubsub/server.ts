/** Composes the stand-in: one plain HTTP server for REST and the client WebSocket endpoint. */
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { ConnectionRegistry, deliver, jsonPayload } from "./connections";
import type { WebPubSubStandIn, WebPubSubStandInOptions } from "./index";
import { handleRest, type RestContext } from "./rest";
import { createClientEndpoint } from "./sockets";
import { createUpstream } from "./upstream";

export async function startWebPubSubStandIn(options: WebPubSubStandInOptions): Promise<WebPubSubStandIn> {
  const host = options.host ?? "127.0.0.1";
  const log = options.log ?? (() => {});
  const registry = new ConnectionRegistry();
  let restDelayMs = options.restDelayMs ?? 0;
  const rest: RestContext = { registry, accessKey: options.accessKey, restDelayMs: () => restDelayMs, acceptBearer: options.acceptBearer };

  const handler: http.RequestListener = (req, res) => {
    const url = new URL(req.url ?? "/", "http://stand-in");
    if (!url.pathname.startsWith("/api/")) {
      req.resume();
      res.writeHead(404).end();
      return;
    }
    handleRest(rest, req, res, url).catch((error: Error) => {
      log(`web pubsub stand-in: REST ${req.method} ${url.pathname} failed: ${error.message}`);
      if (!res.headersSent) res.writeHead(500).end();
    });
  };
  const server = options.tls ? https.createServer({ key: options.tls.key, cert: options.tls.cert }, handler) : http.createServer(handler);
  server.on("clientError", (_error, socket) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const endpointHost = host.includes(":") ? `[${host}]` : host;
  const endpoint = `${options.tls ? "https" : "http"}://${endpointHost}:${port}`;
  rest.endpoint = endpoint;

  const upstream = createUpstream({ accessKey: options.accessKey, origin: new URL(endpoint).host, eventHandlerUrl: options.eventHandlerUrl, log });
  const clients = createClientEndpoint(registry, options.accessKey, {
    opened: (connection) => upstream.connected(connection),
    closed: (connection, reason) => upstream.disconnected(connection, reason),
  });
  server.on("upgrade", clients.handleUpgrade);

  let closing: Promise<void> | undefined;
  return {
    port,
    endpoint,
    connectionString: `Endpoint=${new URL(endpoint).protocol}//${endpointHost};Port=${port};AccessKey=${options.accessKey};Version=1.0;`,
    setRestDelay(ms) {
      restDelayMs = ms;
    },
    sendToUserDirect(hub, userId, data) {
      const payload = jsonPayload(data);
      return registry.ofUser(hub, userId).filter((connection) => deliver(connection, payload)).length;
    },
    connectionCount: (hub) => (hub === undefined ? registry.all() : registry.inHub(hub)).length,
    close() {
      closing ??= new Promise<void>((done) => {
        upstream.close();
        clients.terminateAll();
        // Keep-alive sockets and REST calls parked in restDelayMs would otherwise hold server.close() open.
        server.closeAllConnections();
        server.close(() => done());
      });
      return closing;
    },
  };
}
