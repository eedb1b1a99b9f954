/** The handler wrapper turns every failure into the contract's error shape. */
import { describe, expect, it } from "vitest";

import { DatabaseUnavailableError } from "../../shared/data/db-errors";
import { endpoint, HttpError, ok } from "../../shared/http/http";
import { call } from "../support/http";

describe("endpoint()", () => {
  it("answers an unexpected error with a bare 500 and logs it", async () => {
    const failing = endpoint(async () => {
      throw new Error('relation "secret_table" does not exist at SELECT password FROM ...');
    });
    const res = await call(failing);
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ detail: "Internal Server Error" });
    expect(res.text).not.toMatch(/secret_table|SELECT|at /);
    expect(res.logs.some((l) => l.startsWith("error: unhandled error") && l.includes("secret_table"))).toBe(true);
  });

  it("answers an HttpError as thrown, with its headers", async () => {
    const res = await call(
      endpoint(async () => {
        throw new HttpError(409, "Conflict here", { "X-Reason": "test" });
      }),
    );
    expect(res.status).toBe(409);
    expect(res.body).toEqual({ detail: "Conflict here" });
    expect(res.headers.get("x-reason")).toBe("test");
  });

  it("answers an unavailable database with 503 and Retry-After", async () => {
    const res = await call(
      endpoint(async () => {
        throw new DatabaseUnavailableError("no Microsoft Entra token for PostgreSQL");
      }),
    );
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("5");
    expect(res.text).not.toContain("Entra");
  });

  it("refuses unstorable text in the query or path, and an undecodable path parameter, before the handler runs", async () => {
    let runs = 0;
    const handler = endpoint(async () => {
      runs++;
      return ok({});
    });
    const nul = await call(handler, { query: { page: "1", q: "a\u0000" } });
    expect(nul.status).toBe(422);
    expect(nul.body).toEqual({
      detail: [{ type: "string_unicode", loc: ["query", "q"], msg: "Text must not contain U+0000 (NUL) or unpaired surrogate characters" }],
    });
    expect((await call(handler, { params: { id: "\udc00" } })).body).toMatchObject({ detail: [{ loc: ["path", "id"] }] });
    const undecodable = await call(handler, { params: { id: "%C0%AF" } });
    expect(undecodable.status).toBe(404);
    expect(undecodable.body).toEqual({ detail: "Not Found" });
    expect(runs).toBe(0);
    expect((await call(handler, { query: { q: "\ud83d\ude00" }, params: { id: "a%2Fb" } })).status).toBe(200);
    expect(runs).toBe(1);
  });
});
