/** List answers: bounded in bytes as well as in count, with an RFC 8288 `Link: <...>; rel="next"`. */
import type { HttpResponseInit } from "@azure/functions";

import { getConfig } from "../config/config";
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
 * The JSON array of the items, up to the one that would push it past `maxBytes` UTF-8 bytes. A
 * page under the bound is serialised in one go; one past it item by item, to find the cut. The
 * first item is always kept: a page of none would never move on. `minBytes` is a cheap lower bound
 * of an item's JSON bytes, when the caller knows one.
 */
export function boundedList<T>(items: readonly T[], maxBytes: number, minBytes?: (item: T) => number): ListAnswer<T> {
  // The usual page is far under the bound: one stringify, and a UTF-16 unit is at most 3 UTF-8 bytes.
  // Skipped when the items' own lower bound already passes it (a page of huge messages).
  const surelyOver = minBytes !== undefined && items.reduce((sum, item) => sum + minBytes(item), 0) > maxBytes;
  const whole = surelyOver ? undefined : JSON.stringify(items);
  if (whole !== undefined && (whole.length * 3 <= maxBytes || Buffer.byteLength(whole) <= maxBytes))
    return { body: whole, kept: [...items], cut: false };
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

/** A list's page as the request asks for it, with the byte bound (LIST_MAX_BYTES). */
export const boundedPage = <Q extends object>(query: Q) => ({ ...query, maxBytes: getConfig().listMaxBytes });

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
export function pagedAnswer(
  requestUrl: string,
  items: readonly { id: number; title: string; body: string }[],
  page: { limit: number; maxBytes: number },
  cursor = "before_id",
): HttpResponseInit {
  // A message's JSON holds at least a byte for each UTF-16 unit of its title and body.
  const answer = boundedList(items, page.maxBytes, (m) => m.title.length + m.body.length);
  const last = answer.kept[answer.kept.length - 1];
  const more = last !== undefined && (answer.cut || items.length >= page.limit);
  return jsonText(200, answer.body, more ? nextLink(requestUrl, { [cursor]: last.id, limit: page.limit }) : {});
}

/** How the list endpoints document that header. */
export const LINK_HEADER = {
  Link: 'RFC 8288 `<...?before_id=N&limit=L...>; rel="next"` when the page is full or reached the byte bound (LIST_MAX_BYTES), keeping the other parameters',
};
