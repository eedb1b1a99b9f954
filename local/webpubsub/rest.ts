/**
 * The data-plane REST calls the `@azure/web-pubsub` SDK makes, answered with the status codes
 * the SDK insists on (a send is 202, not 200; a close is 204).
 */
import type { IncomingMessage, ServerResponse } from "node:http";

import { decodeSegment } from "../request-url";
import { HUB_NAME, type Connection, type ConnectionRegistry, type Payload } from "./connections";
import { GENERATE_TOKEN_PATH, generateClientToken } from "./generate-token";
import { bearerToken, verifyServerToken } from "./tokens";

const MAX_BODY_BYTES = 1024 * 1024;
/** Past this an oversized upload is cut off instead of drained. */
const MAX_DRAIN_BYTES = 64 * 1024 * 1024;

export interface RestContext {
  registry: ConnectionRegistry;
  accessKey: string;
  restDelayMs(): number;
  /** Entra mode: accepts bearer tokens by this instead of access-key tokens. */
  acceptBearer?: (token: string) => boolean;
  /** The service's own endpoint, the audience prefix of the client tokens it generates. */
  endpoint?: string;
}

interface Call {
  registry: ConnectionRegistry;
  params: Record<string, string>;
  query: URLSearchParams;
}

type Method = "POST" | "HEAD" | "PUT" | "DELETE";

/** A send answers 202 when accepted and is delivered to its targets afterwards; any other call answers what `act` returns. */
type Route = { method: Method; path: string } & ({ send: (call: Call) => Connection[] } | { act: (call: Call) => number });

const excluding = (call: Call, connections: Connection[]) => {
  const excluded = new Set(call.query.getAll("excluded"));
  return connections.filter((c) => !excluded.has(c.id));
};

const closeAll = (call: Call, connections: Connection[]) => {
  // Gone for the service as soon as it answers, not when the close handshake completes.
  for (const connection of excluding(call, connections)) call.registry.disconnect(connection, call.query.get("reason") ?? "");
  return 204;
};

const connectionOf = ({ registry, params }: Call) => registry.get(params.hub, params.connectionId);

const ROUTES: Route[] = [
  { method: "POST", path: "/api/hubs/{hub}/:send", send: (call) => excluding(call, call.registry.inHub(call.params.hub)) },
  {
    method: "POST",
    path: "/api/hubs/{hub}/users/{userId}/:send",
    send: ({ registry, params }) => registry.ofUser(params.hub, params.userId),
  },
  {
    method: "POST",
    path: "/api/hubs/{hub}/groups/{group}/:send",
    send: (call) => excluding(call, call.registry.inGroup(call.params.hub, call.params.group)),
  },
  // The SDK accepts only 202 here, so a send to a connection that is gone is accepted and goes nowhere.
  {
    method: "POST",
    path: "/api/hubs/{hub}/connections/{connectionId}/:send",
    send: (call) => [connectionOf(call)].filter((c) => c !== undefined),
  },

  {
    method: "HEAD",
    path: "/api/hubs/{hub}/users/{userId}",
    act: ({ registry, params }) => (registry.ofUser(params.hub, params.userId).length ? 200 : 404),
  },
  { method: "HEAD", path: "/api/hubs/{hub}/connections/{connectionId}", act: (call) => (connectionOf(call) ? 200 : 404) },
  {
    method: "HEAD",
    path: "/api/hubs/{hub}/groups/{group}",
    act: ({ registry, params }) => (registry.inGroup(params.hub, params.group).length ? 200 : 404),
  },

  { method: "POST", path: "/api/hubs/{hub}/:closeConnections", act: (call) => closeAll(call, call.registry.inHub(call.params.hub)) },
  {
    method: "POST",
    path: "/api/hubs/{hub}/users/{userId}/:closeConnections",
    act: (call) => closeAll(call, call.registry.ofUser(call.params.hub, call.params.userId)),
  },
  {
    method: "POST",
    path: "/api/hubs/{hub}/groups/{group}/:closeConnections",
    act: (call) => closeAll(call, call.registry.inGroup(call.params.hub, call.params.group)),
  },
  {
    method: "DELETE",
    path: "/api/hubs/{hub}/connections/{connectionId}",
    act: (call) =>
      closeAll(
        call,
        [connectionOf(call)].filter((c) => c !== undefined),
      ),
  },

  {
    method: "PUT",
    path: "/api/hubs/{hub}/groups/{group}/connections/{connectionId}",
    act: (call) => {
      const target = connectionOf(call);
      target?.groups.add(call.params.group);
      return target ? 200 : 404;
    },
  },
  {
    method: "DELETE",
    path: "/api/hubs/{hub}/groups/{group}/connections/{connectionId}",
    act: (call) => {
      connectionOf(call)?.groups.delete(call.params.group);
      return 204;
    },
  },
  {
    method: "DELETE",
    path: "/api/hubs/{hub}/connections/{connectionId}/groups",
    act: (call) => {
      connectionOf(call)?.groups.clear();
      return 204;
    },
  },
];

/** Matches `/a/{name}/b` segment by segment, so an encoded `/` inside a user id stays part of it. */
function matchPath(pattern: string, pathname: string): Record<string, string> | null {
  const want = pattern.split("/");
  const got = pathname.split("/");
  if (want.length !== got.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const name = /^\{(\w+)\}$/.exec(want[i])?.[1];
    if (!name) {
      if (want[i] !== got[i]) return null;
      continue;
    }
    const value = decodeSegment(got[i]);
    if (!value) return null;
    params[name] = value;
  }
  return params;
}

/** The body, or null when it passes the limit. An oversized body is still drained so the client reads the 413 rather than a reset. */
function readBody(req: IncomingMessage): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    // A call parked in restDelayMs may find its connection already gone.
    if (req.destroyed) return resolve(null);
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_DRAIN_BYTES) req.destroy();
      else if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on("end", () => resolve(size > MAX_BODY_BYTES ? null : Buffer.concat(chunks)));
    req.on("error", reject);
    req.on("close", () => resolve(null));
  });
}

class BodyError extends Error {
  constructor(
    readonly status: 400 | 415,
    message: string,
  ) {
    super(message);
  }
}

function parsePayload(contentType: string | undefined, body: Buffer): Payload {
  const media = (contentType ?? "").split(";")[0].trim().toLowerCase();
  switch (media) {
    case "application/json": {
      const text = body.toString("utf8");
      try {
        return { dataType: "json", data: JSON.parse(text), text };
      } catch {
        throw new BodyError(400, "The body is not valid JSON.");
      }
    }
    case "text/plain":
      return { dataType: "text", data: body.toString("utf8") };
    case "application/octet-stream":
      return { dataType: "binary", data: body };
    default:
      throw new BodyError(415, `Content type '${media}' is not supported; use application/json, text/plain or application/octet-stream.`);
  }
}

export function answer(res: ServerResponse, status: number, error?: { code: string; message: string }): void {
  if (!error) {
    res.writeHead(status).end();
    return;
  }
  // The shape of the service's ErrorDetail, which the SDK reads into its RestError.
  res.writeHead(status, { "content-type": "application/json", "x-ms-error-code": error.code }).end(JSON.stringify(error));
}

export async function handleRest(ctx: RestContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const delay = ctx.restDelayMs();
  if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
  const body = await readBody(req);
  if (!authorized(ctx, req.headers.authorization, url)) {
    return answer(res, 401, {
      code: "Unauthorized",
      message: "The access token is missing, invalid or expired, or was issued for another URL.",
    });
  }
  const tokenRequest = req.method === "POST" ? matchPath(GENERATE_TOKEN_PATH, url.pathname) : null;
  if (tokenRequest && ctx.endpoint && HUB_NAME.test(tokenRequest.hub))
    return answerToken(res, generateClientToken(ctx.accessKey, ctx.endpoint, tokenRequest.hub, url.searchParams));
  const hit = ROUTES.map((route) => ({ route, params: route.method === req.method ? matchPath(route.path, url.pathname) : null })).find(
    (m) => m.params,
  );
  if (!hit?.params) return answer(res, 404, { code: "NotFound", message: `No such operation: ${req.method} ${url.pathname}` });
  if (!HUB_NAME.test(hit.params.hub))
    return answer(res, 400, {
      code: "InvalidHubName",
      message: "A hub name starts with a letter and holds letters, digits and _`,.[] only.",
    });
  if (url.searchParams.has("filter")) {
    // Better refused than sent to everyone: a silently ignored filter would over-deliver.
    return answer(res, 400, { code: "NotSupported", message: "The local stand-in does not evaluate OData filters." });
  }
  const call: Call = { registry: ctx.registry, params: hit.params, query: url.searchParams };
  if (!("send" in hit.route)) return answer(res, hit.route.act(call));
  if (body === null) return answer(res, 413, { code: "PayloadTooLarge", message: `The body exceeds ${MAX_BODY_BYTES} bytes.` });
  let payload: Payload;
  try {
    payload = parsePayload(req.headers["content-type"], body);
  } catch (error) {
    if (!(error instanceof BodyError)) throw error;
    return answer(res, error.status, { code: error.status === 415 ? "UnsupportedMediaType" : "InvalidBody", message: error.message });
  }
  const targets = hit.route.send(call);
  answer(res, 202);
  for (const target of targets) ctx.registry.deliverLater(target, payload);
}

function authorized(ctx: RestContext, authorization: string | undefined, url: URL): boolean {
  if (!ctx.acceptBearer) return verifyServerToken(authorization, ctx.accessKey, url);
  const token = bearerToken(authorization);
  return token !== undefined && ctx.acceptBearer(token);
}

function answerToken(res: ServerResponse, generated: ReturnType<typeof generateClientToken>): void {
  if (generated.status !== 200) return answer(res, generated.status, generated.body);
  res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(generated.body));
}
