import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";

import { isDatabaseUnavailable } from "../data/db-errors";
import { ERRORS, HttpError, validationError } from "../domain/errors";
import { isStorageUnavailable } from "../storage/errors";
import { pathParamsDecodable } from "./path-params";
import { requestTextIssues } from "./text";

// Defined with the error texts (shared/domain/errors.ts) so auth and realtime can throw them;
// handlers keep taking them from here, with the answers they become.
export { HttpError, validationError, type ValidationIssue } from "../domain/errors";

/**
 * `nosniff` on every JSON answer: a browser must never read a body that echoes a client's text
 * (a message, a username) as HTML or script, whatever it guesses from the bytes.
 */
export const JSON_HEADERS = {
  "Content-Type": "application/json",
  "Cache-Control": "no-store",
  "X-Content-Type-Options": "nosniff",
} as const;

export function json(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponseInit {
  return jsonText(status, JSON.stringify(body), headers);
}

/** A JSON answer already serialised (a list cut at its byte bound). */
export function jsonText(status: number, text: string, headers: Record<string, string> = {}): HttpResponseInit {
  return { status, body: text, headers: { ...JSON_HEADERS, ...headers } };
}

/**
 * HSTS on every answer that reached the app over HTTPS. In Azure the front end ends TLS and
 * forwards plain HTTP with `X-Forwarded-Proto: https`; the Functions host may or may not rebuild
 * the URL's scheme from it, so either says HTTPS. A forged header on plain HTTP costs nothing:
 * browsers ignore HSTS received over HTTP (RFC 6797, 8.1).
 */
export const HSTS_HEADER = { "Strict-Transport-Security": "max-age=31536000; includeSubDomains" } as const;

export function servedOverHttps(request: HttpRequest): boolean {
  if (request.url.startsWith("https:")) return true;
  const proto = request.headers.get("x-forwarded-proto") ?? "";
  return proto.split(",").some((entry) => entry.trim().toLowerCase() === "https");
}

function withHsts(request: HttpRequest, response: HttpResponseInit): HttpResponseInit {
  if (!servedOverHttps(request)) return response;
  const { headers } = response;
  if (headers === undefined || (!Array.isArray(headers) && !(headers instanceof Headers))) {
    return { ...response, headers: { ...headers, ...HSTS_HEADER } };
  }
  const merged = new Headers(headers);
  for (const [name, value] of Object.entries(HSTS_HEADER)) merged.set(name, value);
  return { ...response, headers: merged };
}

export const ok = (body: unknown): HttpResponseInit => json(200, body);

export function errorResponse(error: HttpError): HttpResponseInit {
  return json(error.status, { detail: error.detail }, error.headers);
}

// The pool reconnects on the next request; a restart or failover takes seconds, not minutes.
// Storage calls are retried by the next request too.
const DATABASE_RETRY_AFTER_SECONDS = 5;

export type Handler = (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>;

/**
 * Wraps a handler so every failure becomes a contract error: HttpErrors as thrown, an
 * unreachable database as 503, anything else as a 500 whose body reveals nothing.
 * Before any function runs: a path parameter that does not decode is a 404, and text no
 * database could store in the path or query a 422; bodies are checked where they are read
 * (shared/http/request.ts).
 */
export function endpoint(handler: Handler): Handler {
  return async (request, context) => withHsts(request, await answer(handler, request, context));
}

async function answer(handler: Handler, request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    if (!pathParamsDecodable(request.params)) throw new HttpError(404, ERRORS.notFound);
    const textIssues = requestTextIssues(request);
    if (textIssues.length > 0) throw validationError(textIssues);
    return await handler(request, context);
  } catch (error) {
    if (error instanceof HttpError) return errorResponse(error);
    // Before the database's check, which would also claim a refused connection to storage.
    if (isStorageUnavailable(error)) {
      context.warn(`storage unavailable: ${describe(error)}`);
      return json(503, { detail: ERRORS.storageUnavailable }, { "Retry-After": String(DATABASE_RETRY_AFTER_SECONDS) });
    }
    if (isDatabaseUnavailable(error)) {
      context.warn(`database unavailable: ${describe(error)}`);
      return json(503, { detail: ERRORS.databaseUnavailable }, { "Retry-After": String(DATABASE_RETRY_AFTER_SECONDS) });
    }
    context.error(`unhandled error: ${describe(error)}`);
    return json(500, { detail: ERRORS.internal });
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
