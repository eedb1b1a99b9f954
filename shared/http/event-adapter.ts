import { Readable } from "node:stream";
import type { HttpRequest, HttpResponseInit } from "@azure/functions";
import { WebPubSubEventHandler, type WebPubSubEventHandlerOptions } from "@azure/web-pubsub-express";

import { ERRORS } from "../domain/errors";
import { JSON_HEADERS } from "./http";

type Middleware = ReturnType<WebPubSubEventHandler["getMiddleware"]>;
type NodeRequest = Parameters<Middleware>[0];
type NodeResponse = Parameters<Middleware>[1];

/** How long a handler may take to answer before we answer for it (handleConnect may never call back). */
const ANSWER_TIMEOUT_MS = 10_000;

/**
 * Runs `@azure/web-pubsub-express`'s handler on a Functions request: builds the plain Node
 * request and response it expects, and waits both for its answer and for the work its
 * callbacks started (which it does not await), since a function may be frozen once it returns.
 */
export async function runEventHandler(
  request: HttpRequest,
  hub: string,
  path: string,
  options: Omit<WebPubSubEventHandlerOptions, "path">,
  pending: Promise<unknown>[],
): Promise<HttpResponseInit | null> {
  const handler = new WebPubSubEventHandler(hub, { ...options, path });
  const body = Buffer.from(await request.arrayBuffer());
  const malformed = { status: 400, headers: JSON_HEADERS, body: JSON.stringify({ detail: ERRORS.malformedWebPubSubEvent }) };
  // The package answers `connected` before it parses the body, then throws where no one
  // catches it; a system event's body must be JSON, so check that first.
  if (request.method === "POST" && request.headers.get("ce-type")?.startsWith("azure.webpubsub.sys.") && !isJson(body)) return malformed;
  const headers: Record<string, string> = {};
  request.headers.forEach((value, name) => (headers[name.toLowerCase()] = value));
  const nodeRequest = Object.assign(Readable.from(body.length ? [body] : []), {
    method: request.method,
    headers,
    baseUrl: "",
    path: new URL(request.url).pathname,
    url: new URL(request.url).pathname,
  }) as unknown as NodeRequest;

  const responseHeaders: Record<string, string> = {};
  let answer: (result: HttpResponseInit | null) => void = () => {};
  const answered = new Promise<HttpResponseInit | null>((resolve) => (answer = resolve));
  const nodeResponse = {
    statusCode: 200,
    setHeader(name: string, value: string | string[]) {
      responseHeaders[name] = Array.isArray(value) ? value.join(",") : value;
      return nodeResponse;
    },
    end(chunk?: string | Buffer) {
      // The package refuses with a bare status (a handshake without WebHook-Request-Origin); ours carry a detail.
      if (nodeResponse.statusCode >= 400) answer({ ...malformed, status: nodeResponse.statusCode });
      else answer({ status: nodeResponse.statusCode, headers: responseHeaders, body: chunk });
      return nodeResponse;
    },
  };
  const timer = setTimeout(
    () => answer({ status: 504, headers: JSON_HEADERS, body: JSON.stringify({ detail: ERRORS.eventHandlerTimeout }) }),
    ANSWER_TIMEOUT_MS,
  );
  try {
    // The middleware resolves once it has handed the event to our callbacks; `answered`
    // once it has written the response (for `connected`, before the callbacks even run).
    const dispatched = handler
      .getMiddleware()(nodeRequest, nodeResponse as unknown as NodeResponse, (error?: unknown) => answer(error ? malformed : null))
      .catch(() => answer(malformed));
    const result = await answered;
    await dispatched;
    await Promise.allSettled(pending);
    return result;
  } finally {
    clearTimeout(timer);
  }
}

function isJson(body: Buffer): boolean {
  try {
    JSON.parse(body.toString("utf8"));
    return true;
  } catch {
    return false;
  }
}
