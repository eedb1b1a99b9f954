/**
 * The OpenAPI 3.1 document, built from the endpoints the function files declare
 * (shared/http/endpoint.ts) with the same zod schemas their inputs are validated with.
 */
import { z } from "zod";

import { declaredEndpoints, errorStatuses, methodsOf, type Declaration, type Documented } from "./endpoint";
import * as S from "./schemas";

type Schema = z.ZodType;

const MEDIA = { json: "application/json", form: "application/x-www-form-urlencoded" } as const;

/** The path a client uses: the route with a leading slash, and the trailing one the original API has. */
export const documentedPath = (declaration: Documented): string => `/${declaration.route}${declaration.trailingSlash ? "/" : ""}`;

// Bodies are described as clients send them; parameters as validated (with their bounds and defaults).
const toSchema = (schema: Schema, io: "input" | "output" = "input") => {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io, target: "draft-2020-12", unrepresentable: "any" });
  return rest;
};

const shapeOf = (schema: unknown): Record<string, unknown> => (schema instanceof z.ZodObject ? schema.shape : {});

function parameters(op: Documented) {
  const from = (where: "query" | "path" | "header", obj: unknown) =>
    Object.entries(shapeOf(obj)).map(([name, field]) => {
      const schema = toSchema(field as Schema, "output");
      return {
        name,
        in: where,
        required: where === "path" || !(field as Schema).safeParse(undefined).success,
        description: (schema as { description?: string }).description,
        schema,
      };
    });
  return [...from("path", op.path), ...from("query", op.query), ...from("header", op.headers)];
}

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: "Bad request",
  401: "Not authenticated or bad token",
  404: "Not found",
  409: "Not ready yet; Retry-After says when to try again",
  410: "Gone: what was asked for is no longer kept",
  413: "Body too large",
  415: "Unsupported media type",
  422: "Validation error",
  429: "Too many attempts from this client; Retry-After says when to try again",
  503: "A dependency is unavailable",
};

function operation(op: Documented, method: string) {
  const headers = op.responseHeaders
    ? {
        headers: Object.fromEntries(
          Object.entries(op.responseHeaders).map(([name, description]) => [name, { description, schema: { type: "string" } }]),
        ),
      }
    : {};
  const responses: Record<string, unknown> =
    op.success === 302
      ? {
          "302": {
            description: "Found: the Location header holds the URL to follow",
            headers: { Location: { schema: { type: "string" } } },
          },
        }
      : op.response
        ? {
            [String(op.success ?? 200)]: {
              description: op.success === 201 ? "Created" : "OK",
              ...headers,
              content: { "application/json": { schema: toSchema(op.response) } },
            },
          }
        : { "204": { description: "Done; no body" } };
  for (const status of errorStatuses(op)) {
    responses[String(status)] = {
      description: ERROR_DESCRIPTIONS[status],
      content: {
        "application/json": { schema: toSchema(op.errorBodies?.[status] ?? (status === 422 ? S.ValidationErrorBody : S.ErrorBody)) },
      },
    };
  }
  return {
    summary: op.summary,
    operationId: `${method}_${documentedPath(op)
      .replace(/[^a-z]+/gi, "_")
      .replace(/^_|_$/g, "")}`,
    ...(op.auth !== "none" ? { security: [{ OAuth2PasswordBearer: [] }] } : {}),
    parameters: parameters(op),
    ...(op.body ? { requestBody: { required: true, content: { [MEDIA[op.body.media]]: { schema: toSchema(op.body.schema) } } } } : {}),
    responses,
  };
}

const documented = (declaration: Declaration): declaration is Documented => declaration.document !== false;

let cached: { from: number; document: object } | undefined;

/** Built once every function file has declared its endpoint (rebuilt if one is declared later). */
export function openApiDocument(): object {
  const declarations = declaredEndpoints();
  if (cached?.from === declarations.length) return cached.document;
  const paths: Record<string, Record<string, unknown>> = {};
  const byPath = [...declarations].filter(documented).sort((a, b) => documentedPath(a).localeCompare(documentedPath(b), "en"));
  for (const op of byPath) {
    for (const method of methodsOf(op)) (paths[documentedPath(op)] ??= {})[method.toLowerCase()] = operation(op, method.toLowerCase());
  }
  const document = {
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
  cached = { from: declarations.length, document };
  return document;
}
