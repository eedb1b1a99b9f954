import type { z } from "zod";

import { validationError, type HttpError, type ValidationIssue } from "../domain/errors";
import { unstorableTextIssues, type Location } from "./text";

export type { Location };

type ZodIssue = z.core.$ZodIssue;

function valueAt(input: unknown, path: PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** Words a client of the original (Pydantic v2) already knows, so error handling keeps working. */
function describeIssue(issue: ZodIssue, value: unknown): Pick<ValidationIssue, "type" | "msg"> {
  switch (issue.code) {
    case "invalid_type":
      if (value === undefined) return { type: "missing", msg: "Field required" };
      if (issue.expected === "string") return { type: "string_type", msg: "Input should be a valid string" };
      if (issue.expected === "boolean") return { type: "bool_parsing", msg: "Input should be a valid boolean, unable to interpret input" };
      if (issue.expected === "object")
        return { type: "model_attributes_type", msg: "Input should be a valid dictionary or object to extract fields from" };
      if (issue.expected === "int" || issue.expected === "number") {
        if (typeof value === "number")
          return { type: "int_from_float", msg: "Input should be a valid integer, got a number with a fractional part" };
        if (typeof value === "string")
          return { type: "int_parsing", msg: "Input should be a valid integer, unable to parse string as an integer" };
        return { type: "int_type", msg: "Input should be a valid integer" };
      }
      return { type: `${issue.expected}_type`, msg: `Input should be a valid ${issue.expected}` };
    case "too_small":
      if (issue.origin === "string")
        return { type: "string_too_short", msg: `String should have at least ${plural(Number(issue.minimum), "character")}` };
      return { type: "greater_than_equal", msg: `Input should be greater than or equal to ${issue.minimum}` };
    case "too_big":
      if (issue.origin === "string")
        return { type: "string_too_long", msg: `String should have at most ${plural(Number(issue.maximum), "character")}` };
      return { type: "less_than_equal", msg: `Input should be less than or equal to ${issue.maximum}` };
    case "invalid_value":
      return { type: "enum", msg: `Input should be ${issue.values.map((v) => `'${String(v)}'`).join(" or ")}` };
    case "custom": {
      const type = (issue.params as { type?: unknown } | undefined)?.type;
      if (typeof type === "string") return { type, msg: issue.message };
      return { type: "value_error", msg: `Value error, ${issue.message}` };
    }
    case "invalid_format":
      if (issue.format === "regex") return { type: "string_pattern_mismatch", msg: issue.message };
      return { type: "value_error", msg: `Value error, ${issue.message}` };
    default:
      return { type: "value_error", msg: `Value error, ${issue.message}` };
  }
}

// Secrets are never echoed back, and long texts are not sent back whole.
const SENSITIVE_FIELD = /password|secret|token/i;
const ECHO_MAX_LENGTH = 200;

function echoable(path: PropertyKey[], value: unknown): boolean {
  if (value === undefined || value === null || typeof value === "object") return false;
  if (path.some((p) => typeof p === "string" && SENSITIVE_FIELD.test(p))) return false;
  return typeof value !== "string" || value.length <= ECHO_MAX_LENGTH;
}

export function toValidationIssues(error: z.ZodError, input: unknown, location: Location): ValidationIssue[] {
  return error.issues.map((issue) => {
    const value = valueAt(input, issue.path);
    const { type, msg } = describeIssue(issue, value);
    const out: ValidationIssue = { type, loc: [location, ...issue.path.map((p) => (typeof p === "number" ? p : String(p)))], msg };
    if (echoable(issue.path, value)) out.input = value;
    return out;
  });
}

/**
 * Parses `input` with `schema`, or throws the 422 a FastAPI client expects. Text that
 * PostgreSQL could not store is refused first, in any field, even one the schema ignores.
 */
export function parseOr422<S extends z.ZodType>(schema: S, input: unknown, location: Location): z.output<S> {
  const textIssues = unstorableTextIssues(input, location);
  if (textIssues.length > 0) throw validationError(textIssues);
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw validationError(toValidationIssues(result.error, input, location)) as HttpError;
}
