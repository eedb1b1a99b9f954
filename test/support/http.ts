/** Calls a handler the way the Functions host would, and reads its answer. */
import { HttpRequest, HttpResponse, InvocationContext, type HttpResponseInit } from "@azure/functions";

import type { Handler } from "../../shared/http/http";

export interface CallOptions {
  method?: string;
  headers?: Record<string, string>;
  query?: Record<string, string>;
  params?: Record<string, string>;
  json?: unknown;
  body?: string | Buffer;
  token?: string;
  /** The URL the host saw, without the query (default `http://localhost/test`). */
  url?: string;
}

export interface CallResult {
  status: number;
  headers: Headers;
  text: string;
  // Tests read arbitrary JSON shapes.
  body: unknown;
  logs: string[];
}

export async function call(handler: Handler, options: CallOptions = {}): Promise<CallResult> {
  const headers: Record<string, string> = { ...options.headers };
  let body: Buffer | undefined;
  if (options.json !== undefined) {
    headers["content-type"] ??= "application/json";
    body = Buffer.from(JSON.stringify(options.json));
  } else if (options.body !== undefined) {
    body = Buffer.from(options.body);
  }
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const query = new URLSearchParams(options.query ?? {}).toString();
  const request = new HttpRequest({
    method: options.method ?? "GET",
    url: `${options.url ?? "http://localhost/test"}${query ? `?${query}` : ""}`,
    headers,
    query: options.query,
    params: options.params ?? {},
    body: body ? { bytes: body } : undefined,
  });
  const logs: string[] = [];
  const context = new InvocationContext({ functionName: "test", logHandler: (level, ...args) => logs.push(`${level}: ${args.join(" ")}`) });
  const init: HttpResponseInit = await handler(request, context);
  const response = new HttpResponse(init);
  const text = await response.text();
  let parsed: unknown = undefined;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: response.status, headers: response.headers, text, body: parsed, logs };
}
