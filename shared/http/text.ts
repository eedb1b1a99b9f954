/** The rule of shared/domain/text.ts over the parts of a request: body, form, query and path. */
import type { HttpRequest } from "@azure/functions";

import { TEXT_ISSUE, type ValidationIssue } from "../domain/errors";
import { isStorableText } from "../domain/text";

export type Location = "body" | "query" | "path" | "header";

// A hostile body may hold thousands; the first few name the problem well enough.
const MAX_ISSUES = 20;

/** A path as a chain to its parent, so walking a deep value copies nothing. */
interface Step {
  key: string | number;
  parent: Step | null;
}

function locOf(location: Location, step: Step | null): (string | number)[] {
  const keys: (string | number)[] = [];
  for (let s = step; s; s = s.parent) keys.push(s.key);
  return [location, ...keys.reverse()];
}

/**
 * A 422 issue for every string in `input` (values and object keys, at any depth) that
 * PostgreSQL could not store. Iterative, so a deeply nested JSON body cannot overflow the stack.
 */
export function unstorableTextIssues(input: unknown, location: Location): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const flag = (step: Step | null) => issues.push({ type: TEXT_ISSUE.type, loc: locOf(location, step), msg: TEXT_ISSUE.msg });
  const pending: { value: unknown; step: Step | null }[] = [{ value: input, step: null }];
  while (pending.length > 0 && issues.length < MAX_ISSUES) {
    const { value, step } = pending.pop()!;
    if (typeof value === "string") {
      if (!isStorableText(value)) flag(step);
    } else if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) pending.push({ value: value[i], step: { key: i, parent: step } });
    } else if (value !== null && typeof value === "object") {
      const entries = Object.entries(value);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, child] = entries[i];
        const next = { key, parent: step };
        if (isStorableText(key)) pending.push({ value: child, step: next });
        else flag(next);
      }
    }
  }
  return issues;
}

/** The same rule over the parts of a request every function receives: route parameters and the query (all values of a repeated name). */
export function requestTextIssues(request: Pick<HttpRequest, "params" | "query">): ValidationIssue[] {
  const query: [string, string][] = [...request.query.entries()];
  return [
    ...unstorableTextIssues(request.params, "path"),
    ...query.flatMap(([name, value]) => unstorableTextIssues({ [name]: value }, "query")),
  ].slice(0, MAX_ISSUES);
}
