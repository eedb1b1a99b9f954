/** The OpenAPI 3.1 document, generated from the same zod schemas the handlers validate with. */
import { z } from "zod";
import * as S from "./schemas";

type Schema = z.ZodType;

interface Operation {
  method: "get" | "post" | "put" | "delete" | "options";
  path: string;
  summary: string;
  auth?: boolean;
  body?: { schema: Schema; media: "application/json" | "application/x-www-form-urlencoded" };
  query?: z.ZodObject;
  pathParams?: z.ZodObject;
  headers?: z.ZodObject;
  /** The 200 body, or null for a 204 with none. */
  response: Schema | null;
  /** Response headers a client may read (documented on the 200). */
  responseHeaders?: Record<string, string>;
  errors: number[];
}

const LINK_HEADER = { Link: 'RFC 8288 `<...?before_id=N&limit=L...>; rel="next"` when the page is full, keeping the other parameters' };

const OPERATIONS: Operation[] = [
  { method: "post", path: "/token", summary: "Log in (OAuth2 password flow)", body: { schema: S.LoginForm, media: "application/x-www-form-urlencoded" }, response: S.Token, errors: [401, 413, 415, 422, 429, 503] },
  { method: "post", path: "/users/", summary: "Register a user", body: { schema: S.UserCreate, media: "application/json" }, response: S.UserPublic, errors: [400, 413, 415, 422, 429, 503] },
  { method: "get", path: "/users/", summary: "Other users, by username", auth: true, query: S.UsersQuery, response: S.UserList, errors: [401, 422] },
  { method: "post", path: "/messages/", summary: "Send a message", auth: true, body: { schema: S.MessageCreate, media: "application/json" }, headers: S.MessageSendHeaders, response: S.Message, errors: [401, 404, 413, 415, 422] },
  { method: "get", path: "/messages/inbox/", summary: "Received messages, newest first", auth: true, query: S.InboxQuery, response: S.MessageList, responseHeaders: LINK_HEADER, errors: [401, 422] },
  { method: "get", path: "/messages/outbox/", summary: "Sent messages, newest first", auth: true, query: S.OutboxQuery, response: S.MessageList, responseHeaders: LINK_HEADER, errors: [401, 422] },
  { method: "get", path: "/messages/unread_count/", summary: "Number of unread received messages", auth: true, response: S.UnreadCount, errors: [401] },
  { method: "put", path: "/messages/{message_id}/read", summary: "Mark a received message read", auth: true, pathParams: S.MarkReadPath, response: S.MarkReadResult, errors: [401, 404, 422] },
  { method: "put", path: "/messages/{message_id}/unread", summary: "Mark a received message unread", auth: true, pathParams: S.MessagePath, response: S.MarkReadResult, errors: [401, 404, 422] },
  { method: "put", path: "/messages/inbox/read", summary: "Mark every received message read (up to up_to_id)", auth: true, query: S.MarkAllReadQuery, response: S.MarkAllReadResult, errors: [401, 422] },
  { method: "get", path: "/messages/{message_id}", summary: "One message you sent or received", auth: true, pathParams: S.MessagePath, response: S.Message, errors: [401, 404, 422] },
  { method: "delete", path: "/messages/{message_id}", summary: "Delete a message from your mailbox (the other party keeps it)", auth: true, pathParams: S.MessagePath, response: null, errors: [401, 404, 422] },
  { method: "get", path: "/messages/{message_id}/thread", summary: "The conversation of a message, oldest first", auth: true, pathParams: S.MessagePath, response: S.MessageList, errors: [401, 404, 422] },
  { method: "get", path: "/ws/", summary: "Negotiate a realtime socket URL (auth by header or ?token=)", auth: true, response: S.Negotiation, errors: [401, 503] },
  { method: "get", path: "/health", summary: "Liveness and database reachability", response: S.Health, errors: [503] },
];

// Bodies are described as clients send them; parameters as validated (with their bounds and defaults).
const toSchema = (schema: Schema, io: "input" | "output" = "input") => {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io, target: "draft-2020-12", unrepresentable: "any" });
  return rest;
};

function parameters(op: Operation) {
  const from = (where: "query" | "path" | "header", obj: z.ZodObject | undefined) =>
    Object.entries(obj?.shape ?? {}).map(([name, field]) => {
      const schema = toSchema(field as Schema, "output");
      return {
        name,
        in: where,
        required: where === "path" || !(field as Schema).safeParse(undefined).success,
        description: (schema as { description?: string }).description,
        schema,
      };
    });
  return [...from("path", op.pathParams), ...from("query", op.query), ...from("header", op.headers)];
}

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: "Bad request",
  401: "Not authenticated or bad token",
  404: "Not found",
  413: "Body too large",
  415: "Unsupported media type",
  422: "Validation error",
  429: "Too many attempts from this client; Retry-After says when to try again",
  503: "A dependency is unavailable",
};

function operation(op: Operation) {
  const headers = op.responseHeaders
    ? { headers: Object.fromEntries(Object.entries(op.responseHeaders).map(([name, description]) => [name, { description, schema: { type: "string" } }])) }
    : {};
  const responses: Record<string, unknown> = op.response
    ? { "200": { description: "OK", ...headers, content: { "application/json": { schema: toSchema(op.response) } } } }
    : { "204": { description: "Done; no body" } };
  for (const status of op.errors) {
    responses[String(status)] = {
      description: ERROR_DESCRIPTIONS[status],
      content: { "application/json": { schema: toSchema(status === 422 ? S.ValidationErrorBody : S.ErrorBody) } },
    };
  }
  return {
    summary: op.summary,
    operationId: `${op.method}_${op.path.replace(/[^a-z]+/gi, "_").replace(/^_|_$/g, "")}`,
    ...(op.auth ? { security: [{ OAuth2PasswordBearer: [] }] } : {}),
    parameters: parameters(op),
    ...(op.body ? { requestBody: { required: true, content: { [op.body.media]: { schema: toSchema(op.body.schema) } } } } : {}),
    responses,
  };
}

let cached: object | undefined;

export function openApiDocument(): object {
  if (cached) return cached;
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of OPERATIONS) (paths[op.path] ??= {})[op.method] = operation(op);
  cached = {
    openapi: "3.1.0",
    info: {
      title: "Real Time Email Service",
      version: "1.0.0",
      description:
        "Users register, log in, send each other titled messages and get new mail and unread counts in real time through Azure Web PubSub (negotiate a socket with GET /ws/).",
    },
    paths,
    components: {
      securitySchemes: {
        OAuth2PasswordBearer: { type: "oauth2", flows: { password: { tokenUrl: "token", scopes: {} } } },
      },
    },
  };
  return cached;
}
