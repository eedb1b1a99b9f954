/**
 * Each endpoint is declared once, in its function file (shared/http/endpoint.ts): what the host
 * registers and what the OpenAPI document describes must be the same set of operations.
 */
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";

import type { RegisteredFunction } from "../../local/functions-core";
import { loadFunctions } from "../../local/load-functions";
import { declaredEndpoints } from "../../shared/http/endpoint";
import { openApiDocument } from "../../shared/http/openapi";

interface Operation {
  parameters: { name: string; in: string }[];
  responses: Record<string, unknown>;
  security?: unknown[];
}
type Document = { paths: Record<string, Record<string, Operation>> };

// Served by the app, not part of the API the document describes.
const UNDOCUMENTED = ["docs", "openapi", "webpubsub-events"];

let registered: RegisteredFunction[];
let doc: Document;

beforeAll(async () => {
  // HTTP functions only: timer functions have no route and are not part of the API.
  registered = (await loadFunctions(path.resolve(__dirname, "../../functions"))).filter((f) => f.trigger.type === "httpTrigger");
  doc = openApiDocument() as Document;
});

// The host matches a route with or without a trailing slash; the document keeps the original's form.
const routeOf = (documentedPath: string) => documentedPath.replace(/^\//, "").replace(/\/$/, "");
const operationsOf = (fns: RegisteredFunction[]) =>
  fns.flatMap((f) => (f.trigger.methods ?? []).map((m) => `${m.toUpperCase()} ${f.trigger.route}`)).sort();

describe("the OpenAPI document", () => {
  it("describes exactly the operations the registered functions serve, by method and route", () => {
    const documented = Object.entries(doc.paths)
      .flatMap(([p, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${routeOf(p)}`))
      .sort();
    expect(documented).toEqual(operationsOf(registered.filter((f) => !UNDOCUMENTED.includes(f.name))));
  });

  it("documents the catch-up endpoint: after and limit, the Link header, and the 410 that carries latest_seq", () => {
    const op = doc.paths["/events/"].get as Operation & {
      responses: Record<string, { headers?: object; content: { "application/json": { schema: { properties: object } } } }>;
    };
    expect(op.parameters.map((p) => p.name).sort()).toEqual(["after", "limit"]);
    expect(Object.keys(op.responses).sort()).toEqual(["200", "401", "410", "422"]);
    expect(op.responses["200"].headers).toHaveProperty("Link");
    expect(Object.keys(op.responses["200"].content["application/json"].schema.properties).sort()).toEqual(["events", "latest_seq"]);
    expect(Object.keys(op.responses["410"].content["application/json"].schema.properties).sort()).toEqual(["detail", "latest_seq"]);
    // Only this endpoint's 410 carries latest_seq.
    expect(
      Object.keys((doc.paths["/ws/"].get.responses["429"] as (typeof op.responses)["410"]).content["application/json"].schema.properties),
    ).toEqual(["detail"]);
  });

  it("leaves out only the functions declared as not part of the API", () => {
    expect(registered.length).toBeGreaterThan(UNDOCUMENTED.length);
    const hidden = declaredEndpoints().filter((d) => d.document === false);
    expect(hidden.map((d) => d.name).sort()).toEqual(UNDOCUMENTED);
  });

  it("has every registered function declared through defineEndpoint (none registered by hand)", () => {
    expect(
      declaredEndpoints()
        .map((d) => d.name)
        .sort(),
    ).toEqual(registered.map((f) => f.name).sort());
  });

  it("names each route parameter as a required path parameter", () => {
    for (const [p, methods] of Object.entries(doc.paths)) {
      const inRoute = [...p.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
      for (const [method, op] of Object.entries(methods)) {
        expect(
          op.parameters
            .filter((x) => x.in === "path")
            .map((x) => x.name)
            .sort(),
          `${method} ${p}`,
        ).toEqual(inRoute);
      }
    }
  });

  it("keeps the original API's paths, the 204 of DELETE, the Link header and the login and registration limits", () => {
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(["/token", "/users/", "/messages/", "/messages/inbox/", "/messages/{message_id}/read", "/ws/", "/health"]),
    );
    expect(Object.keys(doc.paths["/messages/{message_id}"].delete.responses)).toContain("204");
    expect(doc.paths["/messages/inbox/"].get.responses["200"]).toMatchObject({ headers: { Link: expect.anything() } });
    for (const p of ["/token", "/users/"]) expect(Object.keys(doc.paths[p].post.responses)).toEqual(expect.arrayContaining(["429", "503"]));
    // What the declaration implies: a bearer token may be refused, inputs may be invalid, a body too large; and the send limits.
    expect(Object.keys(doc.paths["/messages/"].post.responses).sort()).toEqual([
      "200",
      "401",
      "404",
      "410",
      "413",
      "415",
      "422",
      "429",
      "503",
    ]);
    expect(doc.paths["/messages/"].post.security).toBeDefined();
    expect(doc.paths["/health"].get.security).toBeUndefined();
  });
});
