import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";

import { isDatabaseUnavailable } from "../data/db-errors";
import { ERRORS, HttpError, validationError } from "../domain/errors";
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

export const ok = (body: unknown): HttpResponseInit => json(200, body);

export function errorResponse(error: HttpError): HttpResponseInit {
  return json(error.status, { detail: error.detail }, error.headers);
}

// The pool reconnects on the next request; a restart or failover takes seconds, not minutes.
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
  return async (request, context) => {
    try {
      if (!pathParamsDecodable(request.params)) throw new HttpError(404, ERRORS.notFound);
      const textIssues = requestTextIssues(request);
      if (textIssues.length > 0) throw validationError(textIssues);
      return await handler(request, context);
    } catch (error) {
      if (error instanceof HttpError) return errorResponse(error);
      if (isDatabaseUnavailable(error)) {
        context.warn(`database unavailable: ${describe(error)}`);
        return json(503, { detail: ERRORS.databaseUnavailable }, { "Retry-After": String(DATABASE_RETRY_AFTER_SECONDS) });
      }
      context.error(`unhandled error: ${describe(error)}`);
      return json(500, { detail: ERRORS.internal });
    }
  };
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
