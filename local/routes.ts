/**
 * Functions-style route templates: literal segments, `{name}`, `{name:constraint}`,
 * `{name?}` and the catch-all `{*name}`, matched case-insensitively with an optional
 * trailing slash, as the Functions host (ASP.NET Core routing) does.
 */
import { decodeSegment } from "./request-url";

export interface CompiledRoute {
  template: string;
  pattern: RegExp;
  names: string[];
}

/**
 * The order the Functions host tries routes in: by function name, NOT literal-first as in
 * ASP.NET Core (Azure/azure-functions-host#9876, azure-functions-nodejs-library#300); the
 * first whose template and methods match wins. A function whose template would also match
 * another's literal path must be named to sort after it.
 */
export const hostRouteOrder = (a: string, b: string): number => {
  const [x, y] = [a.toLowerCase(), b.toLowerCase()];
  return x < y ? -1 : x > y ? 1 : 0;
};

const CONSTRAINTS: Record<string, string> = {
  int: "-?\\d+",
  long: "-?\\d+",
  alpha: "[A-Za-z]+",
  bool: "(?:true|false)",
  guid: "[0-9A-Fa-f]{8}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{12}",
  float: "-?\\d+(?:\\.\\d+)?",
  double: "-?\\d+(?:\\.\\d+)?",
  decimal: "-?\\d+(?:\\.\\d+)?",
};

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

export function compileRoute(prefix: string, template: string): CompiledRoute {
  const segments = [prefix, template].join("/").split("/").filter(Boolean);
  const names: string[] = [];
  let source = "";
  for (const segment of segments) {
    const param = /^\{(\*)?([A-Za-z_][\w]*)(?::(\w+))?(\?)?\}$/.exec(segment);
    if (!param) {
      source += `/${escapeRegExp(segment)}`;
      continue;
    }
    const [, catchAll, name, constraint, optional] = param;
    names.push(name);
    if (catchAll) {
      source += "(?:/(.*))?";
      continue;
    }
    const body = constraint ? CONSTRAINTS[constraint.toLowerCase()] : undefined;
    if (constraint && !body) throw new Error(`Unsupported route constraint "${constraint}" in "${template}"`);
    source += optional ? `(?:/(${body ?? "[^/]+"}))?` : `/(${body ?? "[^/]+"})`;
  }
  return { template, pattern: new RegExp(`^${source}/?$`, "i"), names };
}

/**
 * The route parameters when `pathname` matches, else null. A parameter whose percent-encoding
 * does not decode (`%zz`, or bytes that are not UTF-8) names nothing, so the path matches no
 * route and the host answers 404.
 */
export function matchRoute(route: CompiledRoute, pathname: string): Record<string, string> | null {
  const match = route.pattern.exec(pathname === "" ? "/" : pathname);
  if (!match) return null;
  const params: Record<string, string> = {};
  for (const [i, name] of route.names.entries()) {
    const value = match[i + 1];
    if (value === undefined) continue;
    const decoded = decodeSegment(value);
    if (decoded === null) return null;
    params[name] = decoded;
  }
  return params;
}
