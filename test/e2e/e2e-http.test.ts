/** End to end over real HTTP against the `npm start` stack (local host, embedded or CI database). */
import { beforeAll, describe, expect, it } from "vitest";

import { registerOverHttp } from "../support/api";
import { useLocalStack } from "../support/stack";

const local = useLocalStack();
let base: string;

beforeAll(async () => {
  base = local.url;
});

const register = (username: string) => registerOverHttp(base, username);

describe("the API over HTTP", () => {
  it("serves a whole conversation: register, log in, send, read inbox and outbox, mark read", async () => {
    const alice = await register("e2e_alice");
    const bob = await register("e2e_bob");
    const auth = (t: string) => ({ authorization: `Bearer ${t}` });
    const sent = await fetch(`${base}/messages/`, {
      method: "POST",
      headers: { ...auth(alice.token), "content-type": "application/json" },
      body: JSON.stringify({ recipient_id: String(bob.id), title: "Over HTTP", body: "Hello" }),
    });
    expect(sent.status).toBe(200);
    const message = (await sent.json()) as { id: number; sender_username: string };
    expect(message.sender_username).toBe("e2e_alice");
    const inbox = (await (await fetch(`${base}/messages/inbox/`, { headers: auth(bob.token) })).json()) as { id: number }[];
    expect(inbox.map((m) => m.id)).toEqual([message.id]);
    const outbox = (await (await fetch(`${base}/messages/outbox`, { headers: auth(alice.token) })).json()) as { id: number }[];
    expect(outbox.map((m) => m.id)).toEqual([message.id]);
    expect(await (await fetch(`${base}/messages/unread_count/`, { headers: auth(bob.token) })).json()).toEqual({ unread_count: 1 });
    const read = await fetch(`${base}/messages/${message.id}/read`, { method: "PUT", headers: auth(bob.token) });
    expect(await read.json()).toEqual({ message: "Mensagem marcada como lida" });
    expect(await (await fetch(`${base}/messages/unread_count`, { headers: auth(bob.token) })).json()).toEqual({ unread_count: 0 });
    const users = (await (await fetch(`${base}/users`, { headers: auth(alice.token) })).json()) as { username: string }[];
    expect(users.map((u) => u.username)).toEqual(["e2e_bob"]);
  });

  it("answers every route with and without a trailing slash", async () => {
    for (const path of ["/health", "/health/", "/openapi.json", "/openapi.json/", "/docs", "/docs/"]) {
      expect((await fetch(`${base}${path}`)).status, path).toBe(200);
    }
    for (const path of [
      "/users",
      "/users/",
      "/messages/inbox",
      "/messages/inbox/",
      "/messages/outbox",
      "/messages/unread_count/",
      "/ws",
      "/ws/",
    ]) {
      const res = await fetch(`${base}${path}`);
      expect(res.status, path).toBe(401);
      expect(await res.json()).toEqual({ detail: "Not authenticated" });
    }
  });

  it("answers 404 with a detail for unknown paths and methods", async () => {
    const res = await fetch(`${base}/nope`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ detail: "Not Found" });
    // No route takes POST on this path.
    const wrongMethod = await fetch(`${base}/messages/inbox/`, { method: "POST" });
    expect(wrongMethod.status).toBe(404);
    expect(await wrongMethod.json()).toEqual({ detail: "Not Found" });
  });

  it("answers a path that fits a route's parameter like any other call to that route: 401, then 422", async () => {
    // PATCH /messages/{message_id} takes "inbox" as its id (as FastAPI's router would): the caller is
    // authenticated first, like every route, and only then is the id validated (as GET /messages/abc).
    const anonymous = await fetch(`${base}/messages/inbox/`, { method: "PATCH" });
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toEqual({ detail: "Not authenticated" });
    const user = await register("e2e_patch_inbox");
    const signedIn = await fetch(`${base}/messages/inbox/`, {
      method: "PATCH",
      headers: { authorization: `Bearer ${user.token}`, "content-type": "application/json" },
      body: JSON.stringify({ starred: true }),
    });
    expect(signedIn.status).toBe(422);
    expect(JSON.stringify(await signedIn.json())).toContain("message_id");
  });

  it("answers CORS preflights for configured origins only, allowing Authorization", async () => {
    const preflight = (origin: string) =>
      fetch(`${base}/messages/`, {
        method: "OPTIONS",
        headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "authorization,content-type" },
      });
    const allowed = await preflight("http://localhost:5173");
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get("access-control-allow-origin")).toBe("http://localhost:5173");
    expect(allowed.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("authorization");
    expect(allowed.headers.get("access-control-allow-methods")).toContain("POST");
    const refused = await preflight("https://evil.example");
    expect(refused.headers.get("access-control-allow-origin")).toBeNull();
    const simple = await fetch(`${base}/health`, { headers: { origin: "http://localhost:3000" } });
    expect(simple.headers.get("access-control-allow-origin")).toBe("http://localhost:3000");
    const other = await fetch(`${base}/health`, { headers: { origin: "https://evil.example" } });
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("refuses a body over the limit with 413 and malformed JSON with 422", async () => {
    const big = await fetch(`${base}/users/`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "x".repeat(2 * 1024 * 1024),
    });
    expect(big.status).toBe(413);
    expect(await big.json()).toEqual({ detail: "Request body is too large" });
    const bad = await fetch(`${base}/users/`, { method: "POST", headers: { "content-type": "application/json" }, body: "{" });
    expect(bad.status).toBe(422);
    const wrongType = await fetch(`${base}/users/`, { method: "POST", headers: { "content-type": "text/plain" }, body: "{}" });
    expect(wrongType.status).toBe(415);
  });

  it("serves the OpenAPI 3.1 document generated from the schemas, and Swagger UI from the package", async () => {
    const doc = (await (await fetch(`${base}/openapi.json`)).json()) as {
      openapi: string;
      paths: Record<
        string,
        Record<
          string,
          {
            parameters: { name: string; schema: { default?: unknown; maximum?: number } }[];
            requestBody?: { content: Record<string, unknown> };
          }
        >
      >;
    };
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths).sort()).toEqual(
      [
        "/token",
        "/users/",
        "/messages/",
        "/messages/inbox/",
        "/messages/outbox/",
        "/messages/unread_count/",
        "/messages/{message_id}/read",
        "/ws/",
        "/health",
        "/messages/{message_id}",
        "/messages/{message_id}/unread",
        "/messages/inbox/read",
        "/messages/{message_id}/thread",
        "/events/",
        "/attachments",
        "/messages/bulk",
        "/messages/counts/",
        "/messages/{message_id}/attachments/{attachment_id}",
        "/users/me",
        "/users/me/export",
        "/users/me/password",
        "/users/me/sessions",
        "/users/me/sessions/{session_id}",
      ].sort(),
    );
    const inboxParams = doc.paths["/messages/inbox/"].get.parameters;
    expect(inboxParams.map((p) => p.name).sort()).toEqual(["before_id", "limit", "q", "unread"]);
    expect(inboxParams.find((p) => p.name === "limit")?.schema).toMatchObject({ default: 1000, maximum: 1000 });
    expect(doc.paths["/users/"].get.parameters.find((p) => p.name === "limit")?.schema).toMatchObject({ default: 1000 });
    expect(Object.keys(doc.paths["/token"].post.requestBody!.content)).toEqual(["application/x-www-form-urlencoded"]);
    const page = await fetch(`${base}/docs`);
    expect(page.headers.get("content-type")).toContain("text/html");
    const html = await page.text();
    expect(html).toContain("swagger-ui-bundle.js");
    expect(html).not.toMatch(/https?:\/\/(cdn|unpkg|cdnjs)/);
    const bundle = await fetch(`${base}/docs/swagger-ui-bundle.js`);
    expect(bundle.status).toBe(200);
    expect((await bundle.text()).length).toBeGreaterThan(100_000);
    expect((await fetch(`${base}/docs/../package.json`)).status).toBe(404);
    expect((await fetch(`${base}/docs/package.json`)).status).toBe(404);
  });

  it("reports health", async () => {
    const res = await fetch(`${base}/health`);
    expect(await res.json()).toEqual({ status: "ok" });
  });
});
