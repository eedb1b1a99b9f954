/**
 * A thin local stand-in for the Functions host: serves the registered HTTP functions with
 * the host's routing, CORS and request/response objects. Never deployed.
 */
import { randomUUID } from "node:crypto";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import { HttpResponse, type HttpResponseInit } from "@azure/functions";

import { CLIENT_ADDRESS_HEADER } from "../shared/auth/client-address";
import { ERRORS } from "../shared/domain/errors";
import { guardHttpServer } from "./client-error";
import { isPreflight, preflightHeaders, responseCorsHeaders, type CorsPolicy } from "./cors";
import type { RegisteredFunction } from "./functions-core";
import { LocalHttpRequest, LocalInvocationContext } from "./invocation";
import { listen } from "./listen";
import { readCappedBody } from "./request-body";
import { requestUrl } from "./request-url";
import { compileRoute, hostRouteOrder, matchRoute, type CompiledRoute } from "./routes";

// The Functions host's own request size limit (100 MB); the functions apply tighter ones.
const HOST_MAX_BODY_BYTES = 100 * 1024 * 1024;

interface Route {
  fn: RegisteredFunction;
  compiled: CompiledRoute;
  methods: Set<string>;
}

export interface HostOptions {
  functions: RegisteredFunction[];
  routePrefix: string;
  cors: CorsPolicy;
  host?: string;
  port: number;
  log?: (line: string) => void;
}

export interface RunningHost {
  url: string;
  port: number;
  close(): Promise<void>;
}

function buildRoutes(functions: RegisteredFunction[], prefix: string): Route[] {
  return functions
    .filter((fn) => fn.trigger.type.toLowerCase() === "httptrigger")
    .map((fn) => ({
      fn,
      compiled: compileRoute(prefix, fn.trigger.route ?? fn.name),
      methods: new Set((fn.trigger.methods ?? ["GET", "POST"]).map((m) => m.toUpperCase())),
    }))
    .sort((a, b) => hostRouteOrder(a.fn.name, b.fn.name));
}

/** The first route (in the host's order) whose template and methods match. */
function findRoute(routes: Route[], method: string, pathname: string): { route: Route; params: Record<string, string> } | null {
  for (const route of routes) {
    if (!route.methods.has(method)) continue;
    const params = matchRoute(route.compiled, pathname);
    if (params) return { route, params };
  }
  return null;
}

function flattenHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return headers;
}

/**
 * The response as the worker would give it: `HttpResponse` applies the library's rules (jsonBody,
 * cookies, a default content type). The common case of this app, a string or bytes with its
 * content type in a plain header object, is written straight away: the same bytes and headers
 * without building a fetch Response for every request.
 */
function plainResponse(init: HttpResponseInit): { status: number; headers: Record<string, string>; body: Buffer | string } | null {
  const { body, headers } = init;
  if (init.jsonBody !== undefined || init.cookies !== undefined || init.enableContentNegotiation !== undefined) return null;
  if (headers !== undefined && (typeof headers !== "object" || Array.isArray(headers) || headers instanceof Headers)) return null;
  const lowered: Record<string, string> = {};
  for (const [name, value] of Object.entries((headers ?? {}) as Record<string, string>)) lowered[name.toLowerCase()] = String(value);
  // A string goes to the socket as it is (encoded on its way out, not copied into a Buffer first).
  if (typeof body === "string" && lowered["content-type"]) return { status: init.status ?? 200, headers: lowered, body };
  if (Buffer.isBuffer(body) && lowered["content-type"]) return { status: init.status ?? 200, headers: lowered, body };
  if (body === undefined || body === null) return { status: init.status ?? 200, headers: lowered, body: Buffer.alloc(0) };
  return null;
}

/** A Node stream or async iterable body (a streamed download): written as it comes, never held whole. */
const isStreamed = (body: unknown): body is AsyncIterable<Uint8Array | string> =>
  typeof body === "object" && body !== null && !Buffer.isBuffer(body) && Symbol.asyncIterator in body;

async function sendStreamed(res: ServerResponse, init: HttpResponseInit, extraHeaders: Record<string, string>): Promise<void> {
  const headers: Record<string, string> = { ...extraHeaders };
  for (const [name, value] of Object.entries((init.headers ?? {}) as Record<string, string>)) headers[name.toLowerCase()] = String(value);
  res.writeHead(init.status ?? 200, headers);
  try {
    for await (const chunk of init.body as AsyncIterable<Uint8Array | string>) {
      // Wait for the client to take each chunk (backpressure), so memory stays flat.
      if (!res.write(chunk)) await new Promise((resolve) => res.once("drain", resolve).once("close", resolve));
      if (res.destroyed) return;
    }
    res.end();
  } catch {
    // Headers are gone: the only honest signal left is a cut connection.
    res.destroy();
  }
}

async function send(res: ServerResponse, init: HttpResponseInit, extraHeaders: Record<string, string>): Promise<void> {
  if (isStreamed(init.body)) return sendStreamed(res, init, extraHeaders);
  const plain = plainResponse(init);
  if (plain) {
    res.writeHead(plain.status, { ...extraHeaders, ...plain.headers, "Content-Length": String(Buffer.byteLength(plain.body)) });
    res.end(plain.body);
    return;
  }
  const response = new HttpResponse(init);
  const headers: Record<string, string> = { ...extraHeaders };
  response.headers.forEach((value, name) => (headers[name] = value));
  const body = Buffer.from(await response.arrayBuffer());
  res.writeHead(response.status, { ...headers, "Content-Length": String(body.length) });
  res.end(body);
}

export async function startHost(options: HostOptions): Promise<RunningHost> {
  const routes = buildRoutes(options.functions, options.routePrefix);
  const log = options.log ?? (() => {});
  const listenHost = options.host ?? "127.0.0.1";
  // What an HTTP/1.0 request without Host is taken to address; set once listening.
  let ownHost = listenHost;

  // Host is checked by requestUrl(), which answers in JSON where Node would send a bare 400.
  const server = http.createServer({ requireHostHeader: false }, async (req, res) => {
    const started = Date.now();
    const method = (req.method ?? "GET").toUpperCase();
    let path = "(malformed)";
    try {
      const target = requestUrl(req, ownHost);
      if (target.problem !== undefined) {
        await send(res, { status: 400, jsonBody: { detail: target.problem } }, {});
        return;
      }
      const url = target.url;
      path = url.pathname;
      if (isPreflight(req)) {
        const headers = preflightHeaders(options.cors, req);
        if (headers) res.writeHead(204, headers).end();
        else await send(res, { status: 403, jsonBody: { detail: ERRORS.corsRefused } }, {});
        return;
      }
      const cors = responseCorsHeaders(options.cors, req);
      const hit = findRoute(routes, method, url.pathname);
      if (!hit) {
        await send(res, { status: 404, jsonBody: { detail: ERRORS.notFound } }, cors);
        return;
      }
      let body: Buffer | null;
      try {
        body = await readCappedBody(req, HOST_MAX_BODY_BYTES);
      } catch {
        // The client went away or broke the framing mid-body; answer if it can still hear.
        await send(res, { status: 400, jsonBody: { detail: ERRORS.unreadableBody } }, cors);
        return;
      }
      if (body === null) {
        await send(res, { status: 413, jsonBody: { detail: ERRORS.bodyTooLarge } }, cors);
        return;
      }
      const request = new LocalHttpRequest({
        method,
        url: url.toString(),
        // As Azure's front end does: the client cannot choose the address the app sees.
        headers: { ...flattenHeaders(req), [CLIENT_ADDRESS_HEADER]: req.socket.remoteAddress ?? "" },
        query: Object.fromEntries(url.searchParams),
        params: hit.params,
        body,
      });
      const context = new LocalInvocationContext({
        invocationId: randomUUID(),
        functionName: hit.route.fn.name,
        logHandler: (level, ...args) => log(`[${level}] ${hit.route.fn.name}: ${args.map(String).join(" ")}`),
      });
      const result = (await hit.route.fn.handler(request, context)) as HttpResponseInit | undefined;
      await send(res, result ?? { status: 204 }, cors);
    } catch (error) {
      log(`[error] ${method} ${path}: ${(error as Error).stack ?? error}`);
      if (!res.headersSent) await send(res, { status: 500, jsonBody: { detail: ERRORS.internal } }, {}).catch(() => res.destroy());
    } finally {
      log(`${method} ${path} ${res.statusCode} ${Date.now() - started}ms`);
    }
  });
  guardHttpServer(server, (_status, detail) => ({ detail }));
  server.keepAliveTimeout = 5_000;

  const port = await listen(server, options.port, listenHost);
  ownHost = `${listenHost.includes(":") ? `[${listenHost}]` : listenHost}:${port}`;
  return {
    url: `http://${listenHost}:${port}`,
    port,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}
