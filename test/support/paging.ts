/** Follows a list's `Link: rel="next"` chain through a handler, page by page. */
import { expect } from "vitest";

import type { Handler } from "../../shared/http/http";
import { call, type CallOptions, type CallResult } from "./http";

export interface Walk<T> {
  items: T[];
  /** The byte size of each page's body. */
  pageBytes: number[];
}

/** The query of a `<url>; rel="next"` header, or null when there is none. */
export function nextQuery(res: CallResult): Record<string, string> | null {
  const link = res.headers.get("link");
  if (!link) return null;
  const match = /^<([^>]+)>; rel="next"$/.exec(link);
  expect(match, link).not.toBeNull();
  return Object.fromEntries(new URL((match as RegExpExecArray)[1]).searchParams);
}

/** Every page from the first request on, each answered 200, until a page has no next link. */
export async function walkPages<T>(handler: Handler, options: CallOptions, maxPages = 10_000): Promise<Walk<T>> {
  const walk: Walk<T> = { items: [], pageBytes: [] };
  let query: Record<string, string> | null = options.query ?? {};
  while (query && walk.pageBytes.length < maxPages) {
    const res = await call(handler, { ...options, query });
    expect(res.status, res.text.slice(0, 200)).toBe(200);
    walk.pageBytes.push(Buffer.byteLength(res.text));
    walk.items.push(...(res.body as T[]));
    query = nextQuery(res);
  }
  return walk;
}
