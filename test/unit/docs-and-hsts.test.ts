/**
 * No path under /docs answers 5xx (a name an object's prototype holds is a 404, with nothing
 * logged), and every answer served over HTTPS carries Strict-Transport-Security, whether the
 * host kept the https scheme in the URL or the front end said so in X-Forwarded-Proto.
 */
import { describe, expect, it } from "vitest";

import { docs } from "../../functions/docs";
import { endpoint, HttpError, ok } from "../../shared/http/http";
import { call, type CallOptions } from "../support/http";

const asset = (name: string, options: CallOptions = {}) => call(docs, { ...options, params: { asset: name } });

describe("/docs", () => {
  it.each(["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf", "__defineGetter__", "isPrototypeOf"])(
    "answers /docs/%s with 404 and logs nothing",
    async (name) => {
      const res = await asset(name);
      expect(res.status, res.text).toBe(404);
      expect(res.body).toEqual({ detail: "Not Found" });
      expect(res.logs).toEqual([]);
    },
  );

  it("still serves its files", async () => {
    for (const name of ["", "index.html", "swagger-ui.css", "swagger-initializer.js"]) expect((await asset(name)).status, name).toBe(200);
  });
});

describe("Strict-Transport-Security", () => {
  const failing = endpoint(async () => {
    throw new HttpError(409, "Conflict here");
  });
  const succeeding = endpoint(async () => ok({ ok: true }));
  const https = { url: "https://mail.example/api/test" };
  const forwarded = { headers: { "x-forwarded-proto": "https" } };

  it.each([
    ["the URL's scheme", https],
    ["X-Forwarded-Proto", forwarded],
  ])("is on every answer over HTTPS, told by %s", async (_, options) => {
    for (const res of [
      await call(succeeding, options),
      await call(failing, options),
      await asset("", options),
      await asset("nope", options),
    ]) {
      expect(res.headers.get("strict-transport-security")).toBe("max-age=31536000; includeSubDomains");
    }
  });

  it("is not on an answer over plain HTTP", async () => {
    for (const res of [
      await call(succeeding),
      await call(failing),
      await asset(""),
      await call(succeeding, { headers: { "x-forwarded-proto": "http" } }),
    ]) {
      expect(res.headers.get("strict-transport-security")).toBeNull();
    }
  });
});
