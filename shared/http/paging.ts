/** List answers: bounded in bytes as well as in count, with an RFC 8288 `Link: <...>; rel="next"`. */
import type { HttpResponseInit } from "@azure/functions";

import { getConfig } from "../config/config";
import type { PageText } from "../data/messages";
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
 * first item is always kept: a page of none would never move on.
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

/** A list's page as the request asks for it, with the byte bound (LIST_MAX_BYTES). */
export const boundedPage = <Q extends object>(query: Q) => ({ ...query, maxBytes: getConfig().listMaxBytes });

/** The request's URL with these parameters set (the others kept), as a `Link: rel="next"` and its CORS exposure. */
export function nextLink(requestUrl: string, params: Record<string, string | number>): Record<string, string> {
  const next = new URL(requestUrl);
  for (const [name, value] of Object.entries(params)) next.searchParams.set(name, String(value));
  return { Link: `<${next.toString()}>; rel="next"`, "Access-Control-Expose-Headers": "Link" };
}

/**
 * A page's answer text (PageText) cut to `maxBytes` UTF-8 bytes, as boundedList cuts
 * items: up to the message that would pass the bound, the first always kept. A page under the
 * bound, the usual one, is its text as it came.
 */
export function boundedWrittenPage(page: PageText, maxBytes: number): { body: string; lastId: number | undefined; cut: boolean } {
  let bytes = 1; // the opening bracket; each message then adds its JSON and a comma or the closing bracket
  let count = 0;
  for (const size of page.sizes) {
    if (count > 0 && bytes + size + 1 > maxBytes) break;
    bytes += size + 1;
    count++;
  }
  const lastId = page.ids[count - 1];
  if (count === page.ids.length) return { body: page.body, lastId, cut: false };
  // The kept text is bytes - 1 UTF-8 bytes, so at most as many UTF-16 units: only that prefix is
  // encoded to find its end, and not even that when it is ASCII (the escapes of JSON are).
  const prefix = page.body.slice(0, bytes - 1);
  const kept = Buffer.byteLength(prefix) === prefix.length ? prefix : Buffer.from(prefix).toString("utf8", 0, bytes - 1);
  return { body: `${kept}]`, lastId, cut: true };
}

/**
 * A keyset-paged list answer: a page that is full, or was cut at the byte bound, links to the next
 * one (the same request with `cursor` set to the last id sent).
 */
export function pagedAnswer(
  requestUrl: string,
  written: PageText,
  page: { limit: number; maxBytes: number },
  cursor = "before_id",
): HttpResponseInit {
  const answer = boundedWrittenPage(written, page.maxBytes);
  const { lastId } = answer;
  const more = lastId !== undefined && (answer.cut || written.ids.length >= page.limit);
  return jsonText(200, answer.body, more ? nextLink(requestUrl, { [cursor]: lastId, limit: page.limit }) : {});
}

/** How the list endpoints document that header. */
export const LINK_HEADER = {
  Link: 'RFC 8288 `<...?before_id=N&limit=L...>; rel="next"` when the page is full or reached the byte bound (LIST_MAX_BYTES), keeping the other parameters',
};
