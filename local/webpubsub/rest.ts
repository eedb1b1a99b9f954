/** The data-plane REST calls the `@azure/web-pubsub` SDK makes, with the status codes it expects. */
import type { IncomingMessage, ServerResponse } from "node:http";
import { readCappedBody } from "../request-body";
import { deliver, type ConnectionRegistry, type Payload } from "./connections";
import { verifyServerToken } from "./tokens";

const MAX_BODY_BYTES = 1024 * 1024;

export interface RestContext {
  registry: ConnectionRegistry;
  accessKey: string;
  restDelayMs: () => number;
}

type Route = { method: string; pattern: RegExp; handle: (ctx: RestContext, params: string[], payload: () => Payload) => number };

const sendTo = (targets: (ctx: RestContext, params: string[]) => ReturnType<ConnectionRegistry["all"]>) =>
  (ctx: RestContext, params: string[], payload: () => Payload) => {
    const data = payload();
    for (const connection of targets(ctx, params)) deliver(connection, data);
    return 202;
  };

const exists = (count: (ctx: RestContext, params: string[]) => number) => (ctx: RestContext, params: string[]) => (count(ctx, params) > 0 ? 200 : 404);

const ROUTES: Route[] = [
  { method: "POST", pattern: /^\/api\/hubs\/([^/]+)\/:send$/, handle: sendTo((ctx, [hub]) => ctx.registry.inHub(hub)) },
  { method: "POST", pattern: /^\/api\/hubs\/([^/]+)\/users\/([^/]+)\/:send$/, handle: sendTo((ctx, [hub, user]) => ctx.registry.ofUser(hub, user)) },
  { method: "POST", pattern: /^\/api\/hubs\/([^/]+)\/groups\/([^/]+)\/:send$/, handle: sendTo((ctx, [hub, group]) => ctx.registry.inGroup(hub, group)) },
  {
    method: "POST",
    pattern: /^\/api\/hubs\/([^/]+)\/connections\/([^/]+)\/:send$/,
    handle: sendTo((ctx, [hub, id]) => {
      const connection = ctx.registry.get(hub, id);
      return connection ? [connection] : [];
    }),
  },
  { method: "HEAD", pattern: /^\/api\/hubs\/([^/]+)\/users\/([^/]+)$/, handle: exists((ctx, [hub, user]) => ctx.registry.ofUser(hub, user).length) },
  { method: "HEAD", pattern: /^\/api\/hubs\/([^/]+)\/connections\/([^/]+)$/, handle: exists((ctx, [hub, id]) => (ctx.registry.get(hub, id) ? 1 : 0)) },
  { method: "HEAD", pattern: /^\/api\/hubs\/([^/]+)\/groups\/([^/]+)$/, handle: exists((ctx, [hub, group]) => ctx.registry.inGroup(hub, group).length) },
  {
    method: "POST",
    pattern: /^\/api\/hubs\/([^/]+)\/users\/([^/]+)\/:closeConnections$/,
    handle: (ctx, [hub, user]) => {
      for (const connection of ctx.registry.ofUser(hub, user)) connection.socket.close(1000, "closed by the server");
      return 204;
    },
  },
  {
    method: "POST",
    pattern: /^\/api\/hubs\/([^/]+)\/:closeConnections$/,
    handle: (ctx, [hub]) => {
      for (const connection of ctx.registry.inHub(hub)) connection.socket.close(1000, "closed by the server");
      return 204;
    },
  },
];

function parsePayload(contentType: string | undefined, body: Buffer): Payload {
  const media = (contentType ?? "").split(";")[0].trim().toLowerCase();
  if (media === "application/json") {
    const text = body.toString("utf8");
    return { dataType: "json", data: JSON.parse(text), text };
  }
  if (media === "text/plain") return { dataType: "text", data: body.toString("utf8") };
  return { dataType: "binary", data: body };
}

function answer(res: ServerResponse, status: number, message?: string): void {
  if (!message) {
    res.writeHead(status).end();
    return;
  }
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify({ code: String(status), message }));
}

export async function handleRest(ctx: RestContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const delay = ctx.restDelayMs();
  if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
  const path = decodeURIComponent(url.pathname);
  const matches = ROUTES.map((route) => ({ route, match: route.pattern.exec(path) })).filter((m) => m.match);
  const hit = matches.find((m) => m.route.method === req.method);
  if (!hit || !hit.match) return answer(res, matches.length ? 405 : 404, matches.length ? "Method not allowed" : "Not found");
  if (!verifyServerToken(req.headers.authorization, ctx.accessKey, url.toString())) return answer(res, 401, "Invalid or missing access token");
  const body = await readCappedBody(req, MAX_BODY_BYTES);
  if (body === null) return answer(res, 413, "Payload too large");
  let payload: Payload | null = null;
  try {
    const status = hit.route.handle(ctx, hit.match.slice(1), () => (payload ??= parsePayload(req.headers["content-type"], body)));
    answer(res, status);
  } catch {
    answer(res, 400, "Invalid message body");
  }
}
