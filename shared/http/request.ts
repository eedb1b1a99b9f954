import type { HttpRequest } from "@azure/functions";
import type { z } from "zod";

import { getConfig } from "../config/config";
import { ERRORS, HttpError, validationError } from "../domain/errors";
import { parseOr422, type Location } from "./validation";

function mediaType(request: HttpRequest): string {
  return (request.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
}

const tooLarge = () => new HttpError(413, ERRORS.bodyTooLarge);

/**
 * A request whose host has already read the body whole (the local host, which caps it) hands it
 * over as it is; null once another reader has started. In Azure the worker streams the body
 * (enableHttpStream), and it is read chunk by chunk below.
 */
interface WholeBody {
  readWholeBody(): Buffer | null;
}
const holdsWholeBody = (request: HttpRequest): request is HttpRequest & WholeBody =>
  typeof (request as Partial<WholeBody>).readWholeBody === "function";

/** Reads the body, refusing (413) anything over the configured limit without buffering it all. */
export async function readBody(request: HttpRequest, limit = getConfig().requestMaxBytes): Promise<Buffer> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > limit) throw tooLarge();
  const whole = holdsWholeBody(request) ? request.readWholeBody() : null;
  if (whole) {
    if (whole.length > limit) throw tooLarge();
    return whole;
  }
  if (!request.body) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let size = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(Buffer.from(value));
  }
  return Buffer.concat(chunks);
}

const JSON_MEDIA = /^application\/([\w.+-]+\+)?json$/;

/** Reads a JSON body and validates it; 415 for another media type, 422 for bad JSON or fields. */
export async function readJson<S extends z.ZodType>(request: HttpRequest, schema: S): Promise<z.output<S>> {
  if (!JSON_MEDIA.test(mediaType(request))) throw new HttpError(415, ERRORS.unsupportedJson);
  const raw = await readBody(request);
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString("utf8"));
  } catch (error) {
    throw validationError([{ type: "json_invalid", loc: ["body", 0], msg: "JSON decode error", input: {}, ...jsonErrorContext(error) }]);
  }
  return parseOr422(schema, parsed, "body");
}

function jsonErrorContext(error: unknown): { ctx?: { error: string } } {
  return error instanceof Error ? { ctx: { error: error.message } } : {};
}

const FORM_MEDIA = new Set(["application/x-www-form-urlencoded", "multipart/form-data"]);

/** Reads an HTML form (urlencoded or multipart) and validates its text fields. */
export async function readForm<S extends z.ZodType>(request: HttpRequest, schema: S): Promise<z.output<S>> {
  const type = mediaType(request);
  if (!FORM_MEDIA.has(type)) throw new HttpError(415, ERRORS.unsupportedForm);
  const raw = await readBody(request);
  const fields: Record<string, string> = {};
  if (type === "application/x-www-form-urlencoded") {
    for (const [key, value] of new URLSearchParams(raw.toString("utf8"))) fields[key] ??= value;
  } else {
    let form: FormData;
    try {
      form = await new Response(raw, { headers: { "content-type": request.headers.get("content-type") ?? "" } }).formData();
    } catch {
      throw new HttpError(400, "The multipart form could not be parsed");
    }
    for (const [key, value] of form) if (typeof value === "string") fields[key] ??= value;
  }
  return parseOr422(schema, fields, "body");
}

/** Validates the query string; a repeated parameter counts by its last value, as FastAPI does. */
export function readQuery<S extends z.ZodType>(request: HttpRequest, schema: S): z.output<S> {
  return parseOr422(schema, Object.fromEntries(request.query.entries()), "query");
}

export function readParams<S extends z.ZodType>(request: HttpRequest, schema: S, location: Location = "path"): z.output<S> {
  return parseOr422(schema, request.params, location);
}

/** Validates the headers a schema names (in lower case; header names are case-insensitive). */
export function readHeaders<S extends z.ZodObject>(request: HttpRequest, schema: S): z.output<S> {
  const named = Object.keys(schema.shape).map((name) => [name, request.headers.get(name) ?? undefined]);
  return parseOr422(schema, Object.fromEntries(named), "header");
}
