/**
 * One declaration per endpoint: its function file says once what the endpoint is (method,
 * route, auth, inputs, answer, error statuses, summary) and what it does. From it come the
 * `app.http` registration, the validation of the inputs the handler receives, and the
 * endpoint's entry in the OpenAPI document (shared/http/openapi.ts reads the declarations here).
 */
import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import type { z } from "zod";

import { authenticateWith, type CurrentUser } from "../auth/auth";
import { clientAddress } from "../auth/client-address";
import { securityLog } from "../auth/security-log";
import type { Ride } from "../data/users";
import { endpoint, HttpError, type Handler } from "./http";
import { registerHttpFunction } from "./registration";
import { readForm, readHeaders, readJson, readParams, readQuery } from "./request";

export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS";

/**
 * Who may call: "none", or a bearer token in the Authorization header ("bearer"), or there or
 * in `?token=` ("bearer-or-query", for clients that cannot set headers on a socket handshake).
 */
export type Auth = "none" | "bearer" | "bearer-or-query";

export type Body = { schema: z.ZodType; media: "json" | "form" };

type AnySchema = z.ZodType | undefined;
type AnyHeaders = z.ZodObject | undefined;

type Parsed<S> = S extends z.ZodType ? z.output<S> : undefined;
type ParsedBody<B> = B extends Body ? z.output<B["schema"]> : undefined;

/** What a handler receives: the request, its context, and its inputs already validated. */
export interface EndpointInput<A extends Auth, P, Q, H, B, R = never> {
  request: HttpRequest;
  context: InvocationContext;
  user: A extends "none" ? undefined : CurrentUser;
  /** The row of the endpoint's `lookup`, null when it read none or was not asked (always null without a lookup). */
  found: R | null;
  path: Parsed<P>;
  query: Parsed<Q>;
  headers: Parsed<H>;
  body: ParsedBody<B>;
}

interface Common<A extends Auth, P, Q, H, B, R> {
  /** The function's name; the host tries routes in name order (local/routes.ts). */
  name: string;
  method: Method | readonly Method[];
  /** The Functions route template, e.g. `messages/{message_id}/read`. */
  route: string;
  summary: string;
  auth: A;
  path?: P;
  query?: Q;
  headers?: H;
  body?: B;
  /**
   * A row the handler needs, read (or written) in the statement that authenticates the request
   * (one round trip for both; shared/data/users.ts UserRider), keyed by the validated inputs and
   * the id of the user the request's token names (asked only once the token is verified, and run
   * only if its session holds); null when they name nothing the SQL could take, and the handler
   * receives `found: null`. Not asked when an input is invalid (its 422 follows authentication).
   * Only with auth.
   */
  lookup?: (inputs: { path: Parsed<P>; query: Parsed<Q>; headers: Parsed<H>; body: ParsedBody<B> }, userId: number) => Ride<R> | null;
  handler: (input: EndpointInput<A, P, Q, H, B, R>) => Promise<HttpResponseInit>;
}

export interface Documented<
  A extends Auth = Auth,
  P = AnySchema,
  Q = AnySchema,
  H = AnyHeaders,
  B = Body | undefined,
  R = unknown,
> extends Common<A, P, Q, H, B, R> {
  document?: true;
  /** The original API's path ends in a slash (`/users/`); the host answers both forms. */
  trailingSlash?: boolean;
  /** The success body, or null for none (a 204, or the 302 of `success`). */
  response: z.ZodType | null;
  /** The success status when it is not 200 (or 204 without a body): 201 for a created resource, 302 for a redirect. */
  success?: 201 | 302;
  /** Response headers a client may read (documented on the 200). */
  responseHeaders?: Record<string, string>;
  /**
   * The statuses the handler itself answers with. Those the declaration implies are added:
   * 401 for auth, 422 for validated inputs, 413 and 415 for a body.
   */
  errors?: number[];
  /** Error bodies other than `{detail}` (and the 422 list), by status. */
  errorBodies?: Record<number, z.ZodType>;
}

/** Served by the app but not part of the API it documents (the docs, the document itself, Web PubSub's upstream). */
export interface Hidden<
  A extends Auth = Auth,
  P = AnySchema,
  Q = AnySchema,
  H = AnyHeaders,
  B = Body | undefined,
  R = unknown,
> extends Common<A, P, Q, H, B, R> {
  document: false;
}

export type Declaration = Documented | Hidden;

const declarations = new Map<string, Declaration>();

/** Every endpoint declared so far; the deployed bundle and the local host load every function file first. */
export const declaredEndpoints = (): readonly Declaration[] => [...declarations.values()];

export const methodsOf = (declaration: Pick<Declaration, "method">): Method[] =>
  typeof declaration.method === "string" ? [declaration.method] : [...declaration.method];

/** The statuses an endpoint can answer with besides its success, sorted. */
export function errorStatuses(declaration: Documented): number[] {
  const statuses = new Set(declaration.errors ?? []);
  if (declaration.auth !== "none") statuses.add(401);
  if (declaration.path || declaration.query || declaration.headers || declaration.body) statuses.add(422);
  if (declaration.body) [413, 415].forEach((status) => statuses.add(status));
  return [...statuses].sort((a, b) => a - b);
}

/** Registers the endpoint with the Functions host and returns its handler (tests call it directly). */
export function defineEndpoint<
  A extends Auth,
  P extends z.ZodType | undefined = undefined,
  Q extends z.ZodType | undefined = undefined,
  H extends z.ZodObject | undefined = undefined,
  B extends Body | undefined = undefined,
  R = never,
>(declaration: Documented<A, P, Q, H, B, R> | Hidden<A, P, Q, H, B, R>): Handler {
  if (declarations.has(declaration.name)) throw new Error(`An endpoint named "${declaration.name}" is already declared`);
  if (declaration.lookup && declaration.auth === "none") throw new Error(`"${declaration.name}": a lookup rides on authentication`);
  declarations.set(declaration.name, declaration as unknown as Declaration);
  const handler = endpoint(async (request, context) => {
    const input = await readInputs(declaration, request, context);
    return declaration.handler(input).catch((error: unknown) => {
      // A signed-in user's request refused by a limiter is a security event; logins and registrations log their own.
      if (input.user && error instanceof HttpError && error.status === 429) {
        const retryAfter = Number(error.headers["Retry-After"]);
        securityLog.requestThrottled(context, { userId: input.user.id, address: clientAddress(request) }, declaration.name, retryAfter);
      }
      throw error;
    });
  });
  registerHttpFunction({ name: declaration.name, route: declaration.route, methods: methodsOf(declaration), handler });
  return handler;
}

// In the order the original answered in: who is asking, then the path, the query, the headers, the
// body. The path, query and headers (and the body, for a lookup) are read first, for a lookup's
// keys, but their errors come after a 401.
async function readInputs<A extends Auth, P, Q, H, B, R>(
  declaration: Common<A, P, Q, H, B, R>,
  request: HttpRequest,
  context: InvocationContext,
): Promise<EndpointInput<A, P, Q, H, B, R>> {
  const { auth, path, query, headers, body } = declaration as unknown as Declaration;
  const readBody = async () => body && (body.media === "json" ? readJson(request, body.schema) : readForm(request, body.schema));
  const params = attempt(() => path && readParams(request, path));
  const search = attempt(() => query && readQuery(request, query));
  const heads = attempt(() => headers && readHeaders(request, headers));
  const early = declaration.lookup && body ? await attemptAsync(readBody) : undefined;
  const { lookup } = declaration;
  const ride =
    lookup && params.ok && search.ok && heads.ok && (early?.ok ?? true)
      ? (userId: number) =>
          lookup(
            {
              path: params.value as Parsed<P>,
              query: search.value as Parsed<Q>,
              headers: heads.value as Parsed<H>,
              body: (early?.ok ? early.value : undefined) as ParsedBody<B>,
            },
            userId,
          )
      : null;
  const signedIn =
    auth === "none" ? undefined : await authenticateWith(request, { allowQuery: auth === "bearer-or-query", log: context }, ride);
  const input = {
    request,
    context,
    user: signedIn?.user,
    found: signedIn?.found ?? null,
    path: params.get(),
    query: search.get(),
    headers: heads.get(),
    body: early ? early.get() : await readBody(),
  };
  return input as EndpointInput<A, P, Q, H, B, R>;
}

type Attempt<T> = ({ ok: true; value: T } | { ok: false }) & { get(): T };

/** A read whose error is thrown when its value is asked for. */
function attempt<T>(read: () => T): Attempt<T> {
  try {
    const value = read();
    return { ok: true, value, get: () => value };
  } catch (error) {
    return failed(error);
  }
}

async function attemptAsync<T>(read: () => Promise<T>): Promise<Attempt<T>> {
  try {
    const value = await read();
    return { ok: true, value, get: () => value };
  } catch (error) {
    return failed(error);
  }
}

function failed<T>(error: unknown): Attempt<T> {
  return {
    ok: false,
    get: () => {
      throw error;
    },
  };
}
