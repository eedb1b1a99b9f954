/**
 * The URL a request names, from its Host header and request target, or why it names none.
 * Node's parser refuses a malformed request line itself (see client-error.ts) but passes on
 * any Host value and any target it can tokenise, so the local servers check the rest here
 * rather than let `new URL` throw inside a request handler.
 */
import type { IncomingMessage } from "node:http";

import { ERRORS } from "../shared/domain/errors";

export type RequestUrl = { url: URL; problem?: undefined } | { url?: undefined; problem: string };

// RFC 3986 host: an IP literal in brackets, or a reg-name / IPv4 address; then an optional port.
const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~!$&'()*+,;=-]+)(?::\d*)?$/;
const ABSOLUTE_FORM = /^https?:\/\//i;

function parse(text: string): URL | null {
  try {
    return new URL(text);
  } catch {
    return null;
  }
}

/** A path segment, percent-decoded; null when its escapes do not decode (`%zz`, bytes that are not UTF-8). */
export function decodeSegment(segment: string): string | null {
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}

/** How many Host headers the request carries (Node keeps only the first in `headers`). */
function hostHeaders(req: IncomingMessage): number {
  let count = 0;
  for (let i = 0; i < req.rawHeaders.length; i += 2)
    if (req.rawHeaders[i].length === 4 && req.rawHeaders[i].toLowerCase() === "host") count++;
  return count;
}

// The origin of the last Host value seen: a server hears the same one on nearly every request.
let lastHost: { host: string; origin: string | null } = { host: "", origin: null };

/** The origin a Host value names, or null when it names none. */
function originOf(host: string): string | null {
  if (host !== lastHost.host) {
    // The URL parser accepts far more than a Host header may hold (`a/b`, `u@h`), hence the pattern first.
    const parsed = HOST.test(host) ? parse(`http://${host}`) : null;
    lastHost = { host, origin: parsed ? parsed.origin : null };
  }
  return lastHost.origin;
}

/** `defaultHost` serves HTTP/1.0 requests, which may omit Host. */
export function requestUrl(req: IncomingMessage, defaultHost: string): RequestUrl {
  if (hostHeaders(req) > 1) return { problem: ERRORS.malformedHost };
  const host = req.headers.host ?? (req.httpVersion === "1.0" ? defaultHost : undefined);
  if (host === undefined) return { problem: ERRORS.missingHost };
  const origin = originOf(host);
  if (origin === null) return { problem: ERRORS.malformedHost };

  const target = req.url ?? "";
  // Origin-form is appended, not resolved: `//x` is a path here, not another host.
  const url = target.startsWith("/") ? parse(`${origin}${target}`) : ABSOLUTE_FORM.test(target) ? parse(target) : null;
  return url ? { url } : { problem: ERRORS.malformedTarget };
}
