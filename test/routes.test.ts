import { describe, expect, it } from "vitest";
import { compileRoute, matchRoute } from "../local/routes";

describe("Functions route templates", () => {
  it("match with and without a trailing slash, case-insensitively", () => {
    const users = compileRoute("", "users");
    expect(matchRoute(users, "/users")).toEqual({});
    expect(matchRoute(users, "/users/")).toEqual({});
    expect(matchRoute(users, "/Users")).toEqual({});
    expect(matchRoute(users, "/users/1")).toBeNull();
  });

  it("bind parameters, constraints, optional and catch-all segments", () => {
    expect(matchRoute(compileRoute("", "messages/{message_id}/read"), "/messages/42/read/")).toEqual({ message_id: "42" });
    const typed = compileRoute("", "items/{id:int}");
    expect(matchRoute(typed, "/items/7")).toEqual({ id: "7" });
    expect(matchRoute(typed, "/items/x")).toBeNull();
    const docs = compileRoute("", "docs/{*asset}");
    expect(matchRoute(docs, "/docs")).toEqual({});
    expect(matchRoute(docs, "/docs/swagger-ui.css")).toEqual({ asset: "swagger-ui.css" });
    expect(matchRoute(compileRoute("", "a/{b?}"), "/a")).toEqual({});
  });

  it("match nothing when a parameter's percent-encoding does not decode", () => {
    const read = compileRoute("", "messages/{message_id}/read");
    expect(matchRoute(read, "/messages/%34%32/read")).toEqual({ message_id: "42" });
    for (const bad of ["%zz", "%", "%E0%A4%A", "%ED%A0%80", "%C0%AF"]) expect(matchRoute(read, `/messages/${bad}/read`), bad).toBeNull();
    expect(matchRoute(compileRoute("", "docs/{*asset}"), "/docs/a/%zz")).toBeNull();
  });

  it("apply host.json's routePrefix", () => {
    const prefixed = compileRoute("api", "users");
    expect(matchRoute(prefixed, "/api/users")).toEqual({});
    expect(matchRoute(prefixed, "/users")).toBeNull();
  });

  it("prefer literal segments", () => {
    expect(compileRoute("", "messages/inbox").specificity).toBeGreaterThan(compileRoute("", "messages/{id}").specificity);
  });

  it("refuse an unknown constraint", () => {
    expect(() => compileRoute("", "x/{id:wat}")).toThrow(/Unsupported route constraint/);
  });
});
