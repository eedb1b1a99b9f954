/**
 * Functions-style route templates: literal segments, `{name}`, `{name:constraint}`,
 * `{name?}` and the catch-all `{*name}`, matched case-insensitively with an optional
 * trailing slash, as the Functions host (ASP.NET Core routing) does.
 */
export interface CompiledRoute {
  template: string;
  pattern: RegExp;
  names: string[];
  /** Literal segments win over parameters when two templates match the same path. */
  specificity: number;
}

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
  let specificity = 0;
  let source = "";
  for (const segment of segments) {
    const param = /^\{(\*)?([A-Za-z_][\w]*)(?::(\w+))?(\?)?\}$/.exec(segment);
    if (!param) {
      source += `/${escapeRegExp(segment)}`;
      specificity += 2;
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
    specificity += 1;
  }
  return { template, pattern: new RegExp(`^${source}/?$`, "i"), names, specificity };
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

function decodeSegment(value: string): string | null {
  try {
    return decodeURIComponent(value);
  } catch {
    return null;
  }
}
