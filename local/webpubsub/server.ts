/** Composes the stand-in: one plain HTTP server for REST and the client WebSocket endpoint. */
import http from "node:http";
import https from "node:https";
import WebSocket from "ws";

import { guardHttpServer } from "../client-error";
import { listen } from "../listen";
import { requestUrl } from "../request-url";
import { ConnectionRegistry, jsonPayload } from "./connections";
import type { WebPubSubStandIn, WebPubSubStandInOptions } from "./index";
import { DEFAULT_MAX_UNACKED_BYTES, DEFAULT_MAX_UNACKED_MESSAGES, DEFAULT_SESSION_RETENTION_MS } from "./reliable";
import { answer, handleRest, type RestContext } from "./rest";
import { createClientEndpoint } from "./sockets";
import { createUpstream } from "./upstream";

/** A few milliseconds: enough that a client assuming delivery with the 202 fails, little for a benchmark. */
const DEFAULT_DELIVERY_JITTER_MS = 3;

/** What an HTTP/1.0 call without Host addresses: the stand-in ignores hosts anyway. */
const STAND_IN_HOST = "stand-in";

/** The service's error shape, for calls refused before they reach an operation. */
const badRequest = (message: string) => ({ code: "BadRequest", message });

export async function startWebPubSubStandIn(options: WebPubSubStandInOptions): Promise<WebPubSubStandIn> {
  const host = options.host ?? "127.0.0.1";
  const log = options.log ?? (() => {});
  const registry = new ConnectionRegistry(
    {
      retentionMs: options.sessionRetentionMs ?? DEFAULT_SESSION_RETENTION_MS,
      maxUnacked: options.maxUnackedMessages ?? DEFAULT_MAX_UNACKED_MESSAGES,
      maxUnackedBytes: options.maxUnackedBytes ?? DEFAULT_MAX_UNACKED_BYTES,
    },
    options.deliveryJitterMs ?? DEFAULT_DELIVERY_JITTER_MS,
  );
  let restDelayMs = options.restDelayMs ?? 0;
  const rest: RestContext = { registry, accessKey: options.accessKey, restDelayMs: () => restDelayMs, acceptBearer: options.acceptBearer };

  const handler: http.RequestListener = (req, res) => {
    const target = requestUrl(req, STAND_IN_HOST);
    if (!target.url) return answer(res, 400, badRequest(target.problem));
    const url = target.url;
    if (!url.pathname.startsWith("/api/")) return answer(res, 404, { code: "NotFound", message: `No such resource: ${url.pathname}` });
    handleRest(rest, req, res, url).catch((error: Error) => {
      log(`web pubsub stand-in: REST ${req.method} ${url.pathname} failed: ${error.message}`);
      if (!res.headersSent) answer(res, 500, { code: "InternalServerError", message: "The stand-in failed to answer this call." });
    });
  };
  const server = options.tls
    ? https.createServer({ key: options.tls.key, cert: options.tls.cert, requireHostHeader: false }, handler)
    : http.createServer({ requireHostHeader: false }, handler);
  guardHttpServer(server, (_status, message) => badRequest(message));

  const port = await listen(server, options.port, host);
  const endpointHost = host.includes(":") ? `[${host}]` : host;
  const endpoint = `${options.tls ? "https" : "http"}://${endpointHost}:${port}`;
  rest.endpoint = endpoint;

  const upstream = createUpstream({
    accessKey: options.accessKey,
    origin: new URL(endpoint).host,
    eventHandlerUrl: options.eventHandlerUrl,
    log,
  });
  const clients = createClientEndpoint(registry, options.accessKey, { opened: (connection) => upstream.connected(connection) });
  registry.onEnd((connection, reason) => upstream.disconnected(connection, reason));
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
      return registry.ofUser(hub, userId).filter((connection) => registry.deliver(connection, payload)).length;
    },
    dropSockets(hub, userId) {
      const dropped = (userId === undefined ? registry.inHub(hub) : registry.ofUser(hub, userId)).filter(
        (c) => c.socket.readyState === WebSocket.OPEN,
      );
      for (const connection of dropped) connection.socket.terminate();
      return dropped.length;
    },
    connectionCount: (hub) => (hub === undefined ? registry.all() : registry.inHub(hub)).length,
    validateEventHandler: (hub) => upstream.validate(hub),
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
