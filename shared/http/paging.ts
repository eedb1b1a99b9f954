/** List answers: bounded in bytes as well as in count, with an RFC 8288 `Link: <...>; rel="next"`. */
import type { HttpResponseInit } from "@azure/functions";
import { jsonText } from "./http";

export interface ListAnswer<T> {
  /** The JSON array of the items that fit. */
  body: string;
  /** The items that fit: at least one when there is any, so paging always moves on. */
  kept: T[];
  /** True when an item was left out because the answer would have passed the byte bound. */
  cut: boolean;
}

/**
 * The JSON array of the items, up to the one that would push it past `maxBytes` UTF-8 bytes
 * (the whole array is serialised once; only one past the bound is cut item by item). The first item is always kept: no single item is larger than
 * the bound's smallest setting allows for, and a page of none would never move on.
 */
export function boundedList<T>(items: readonly T[], maxBytes: number): ListAnswer<T> {
  // The usual page is far under the bound: one stringify, and a UTF-16 unit is at most 3 UTF-8 bytes.
  const whole = JSON.stringify(items);
  if (whole.length * 3 <= maxBytes || Buffer.byteLength(whole) <= maxBytes) return { body: whole, kept: [...items], cut: false };
  const parts: string[] = [];
  let bytes = 2; // the brackets
  for (const item of items) {
    const text = JSON.stringify(item);
    const size = Buffer.byteLength(text) + (parts.length > 0 ? 1 : 0);
    if (parts.length > 0 && bytes + size > maxBytes) return { body: `[${parts.join(",")}]`, kept: items.slice(0, parts.length), cut: true };
    parts.push(text);
    bytes += size;
  }
  return { body: `[${parts.join(",")}]`, kept: [...items], cut: false };
}

/** The request's URL with these parameters set (the others kept), as a `Link: rel="next"` and its CORS exposure. */
export function nextLink(requestUrl: string, params: Record<string, string | number>): Record<string, string> {
  const next = new URL(requestUrl);
  for (const [name, value] of Object.entries(params)) next.searchParams.set(name, String(value));
  return { Link: `<${next.toString()}>; rel="next"`, "Access-Control-Expose-Headers": "Link" };
}

/**
 * A keyset-paged list answer: a page that is full, or was cut at the byte bound, links to the next
 * one (the same request with `cursor` set to the last id sent).
 */
export function pagedAnswer(requestUrl: string, items: readonly { id: number }[], page: { limit: number; maxBytes: number }, cursor = "before_id"): HttpResponseInit {
  const answer = boundedList(items, page.maxBytes);
  const last = answer.kept[answer.kept.length - 1];
  const more = last !== undefined && (answer.cut || items.length >= page.limit);
  return jsonText(200, answer.body, more ? nextLink(requestUrl, { [cursor]: last.id, limit: page.limit }) : {});
}

/** How the list endpoints document that header. */
export const LINK_HEADER = {
  Link: 'RFC 8288 `<...?before_id=N&limit=L...>; rel="next"` when the page is full or reached the byte bound (LIST_MAX_BYTES), keeping the other parameters',
};
