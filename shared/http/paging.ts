/** RFC 8288 `Link: <...>; rel="next"` for keyset-paged lists. */

/**
 * The headers of a list answer: a full page links to the next one (the same request with
 * `before_id` set to the last id), and lets browsers on an allowed origin read that link.
 */
export function nextPageHeaders(requestUrl: string, items: readonly { id: number }[], limit: number): Record<string, string> {
  if (items.length === 0 || items.length < limit) return {};
  const next = new URL(requestUrl);
  next.searchParams.set("before_id", String(items[items.length - 1].id));
  next.searchParams.set("limit", String(limit));
  return { Link: `<${next.toString()}>; rel="next"`, "Access-Control-Expose-Headers": "Link" };
}

/** How the list endpoints document that header. */
export const LINK_HEADER = { Link: 'RFC 8288 `<...?before_id=N&limit=L...>; rel="next"` when the page is full, keeping the other parameters' };
