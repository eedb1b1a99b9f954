import type { IncomingMessage } from "node:http";

/** CORS as the Functions host applies `Host.CORS`: a list of origins, or "*". */
export interface CorsPolicy {
  origins: string[];
  credentials: boolean;
}

export function parseCors(value: string | undefined, credentials = false): CorsPolicy {
  const origins = (value ?? "")
    .split(",")
    .map((o) => o.trim().replace(/\/$/, ""))
    .filter(Boolean);
  return { origins, credentials };
}

function allowedOrigin(policy: CorsPolicy, origin: string | undefined): string | null {
  if (!origin) return null;
  if (policy.origins.includes("*")) return policy.credentials ? origin : "*";
  return policy.origins.some((o) => o.toLowerCase() === origin.toLowerCase()) ? origin : null;
}

export function isPreflight(request: IncomingMessage): boolean {
  return request.method === "OPTIONS" && !!request.headers.origin && !!request.headers["access-control-request-method"];
}

/** Headers for a preflight, or null when the origin is not allowed (the host then answers 403 with a detail and no CORS headers). */
export function preflightHeaders(policy: CorsPolicy, request: IncomingMessage): Record<string, string> | null {
  const origin = allowedOrigin(policy, request.headers.origin);
  if (!origin) return null;
  const headers: Record<string, string> = {
    "Access-Control-Allow-Origin": origin,
    "Access-Control-Allow-Methods": "GET, POST, PUT, PATCH, DELETE, OPTIONS, HEAD",
    "Access-Control-Allow-Headers": request.headers["access-control-request-headers"] ?? "Authorization, Content-Type",
    "Access-Control-Max-Age": "600",
    Vary: "Origin",
  };
  if (policy.credentials) headers["Access-Control-Allow-Credentials"] = "true";
  return headers;
}

/** Headers added to an actual response for an allowed origin. */
export function responseCorsHeaders(policy: CorsPolicy, request: IncomingMessage): Record<string, string> {
  const origin = allowedOrigin(policy, request.headers.origin);
  if (!origin) return {};
  const headers: Record<string, string> = { "Access-Control-Allow-Origin": origin, Vary: "Origin" };
  if (policy.credentials) headers["Access-Control-Allow-Credentials"] = "true";
  return headers;
}
