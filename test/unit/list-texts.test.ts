/**
 * A named list's text and name are made once per shape and kept (shared/data/messages.ts): the
 * kept text must be exactly what building the list afresh gives, for every named shape and every
 * limit, whatever was asked before it, with the values of the request at hand.
 */
import { describe, expect, it } from "vitest";

import { statementName } from "../../shared/data/db";
import { listQuery, preparedListQuery, type ListFilters, type Page } from "../../shared/data/messages";

const FILTERS: ListFilters[] = [
  {},
  { folder: "inbox" },
  { folder: "archive" },
  { folder: "sent" },
  { unread: false },
  { folder: "inbox", unread: true },
  { folder: "inbox", unread: false },
];
const PAGES: Page[] = [1, 9, 10, 11, 50, 100].flatMap((limit) => [
  { limit },
  { limit, before_id: 7_000 + limit },
  { limit, maxBytes: 1 << 20 },
  { limit, before_id: 9, maxBytes: 4096 },
]);

describe("named list texts", () => {
  it("answer each named shape, in any order of requests, with the text and values built afresh", () => {
    const shapes = FILTERS.flatMap((filters) => PAGES.map((page) => ({ filters, page })));
    // Twice over, the second time in reverse: a kept text must never answer another shape.
    for (const [round, list] of [shapes, [...shapes].reverse()].entries()) {
      for (const [i, { filters, page }] of list.entries()) {
        const userId = 1_000 * round + i + 1;
        const named = preparedListQuery(userId, filters, page);
        const fresh = listQuery(userId, filters, page);
        expect(named.text).toBe(fresh.text);
        expect(named.values).toEqual(fresh.values);
        expect(named.name).toBe(statementName("list", fresh.text));
      }
    }
  });

  it("leave the other shapes unnamed, built for each request", () => {
    const named = preparedListQuery(1, { from: 3 }, { limit: 50 });
    expect(named.name).toBeUndefined();
    expect(named).toEqual(listQuery(1, { from: 3 }, { limit: 50 }));
  });
});
