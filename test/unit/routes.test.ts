import path from "node:path";
import { describe, expect, it } from "vitest";

import { loadFunctions } from "../../local/load-functions";
import { compileRoute, hostRouteOrder, matchRoute } from "../../local/routes";

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

  it("are tried in function-name order, as the Functions host does (not literal-first)", () => {
    const names = ["messages-view", "messages-inbox", "Messages-Delete", "messages-mark-read", "messages-mark-all-read"];
    expect([...names].sort(hostRouteOrder)).toEqual([
      "Messages-Delete",
      "messages-inbox",
      "messages-mark-all-read",
      "messages-mark-read",
      "messages-view",
    ]);
  });

  it("refuse an unknown constraint", () => {
    expect(() => compileRoute("", "x/{id:wat}")).toThrow(/Unsupported route constraint/);
  });
});

describe("the app's routes on the Functions host", () => {
  it("never let a function shadow another's literal path (routes are tried by function name)", async () => {
    const functions = (await loadFunctions(path.resolve(__dirname, "../../functions"))).sort((a, b) => hostRouteOrder(a.name, b.name));
    const methodsOf = (f: (typeof functions)[number]) => new Set((f.trigger.methods ?? []).map((m) => m.toUpperCase()));
    functions.forEach((literal, i) => {
      const template = literal.trigger.route ?? literal.name;
      if (template.includes("{")) return;
      for (const earlier of functions.slice(0, i)) {
        const shared = [...methodsOf(literal)].filter((m) => methodsOf(earlier).has(m));
        if (!shared.length) continue;
        const shadows = matchRoute(compileRoute("", earlier.trigger.route ?? earlier.name), `/${template}`) !== null;
        expect(shadows, `${earlier.name} (${earlier.trigger.route}) would answer ${shared.join("/")} /${template}`).toBe(false);
      }
    });
    // What the host picks: the first function, in name order, whose template and methods match.
    const byPath = (method: string, p: string) =>
      functions.find((f) => methodsOf(f).has(method) && matchRoute(compileRoute("", f.trigger.route ?? f.name), p))?.name;
    expect(byPath("GET", "/messages/inbox/")).toBe("messages-inbox");
    expect(byPath("GET", "/messages/outbox")).toBe("messages-outbox");
    expect(byPath("GET", "/messages/unread_count")).toBe("messages-unread-count");
    expect(byPath("GET", "/messages/12")).toBe("messages-view");
    expect(byPath("PUT", "/messages/inbox/read")).toBe("messages-mark-all-read");
    expect(byPath("PUT", "/messages/12/read")).toBe("messages-mark-read");
    expect(byPath("PUT", "/messages/12/unread")).toBe("messages-mark-unread");
    expect(byPath("DELETE", "/messages/12")).toBe("messages-delete");
    expect(byPath("GET", "/messages/12/thread")).toBe("messages-thread");
  });
});
