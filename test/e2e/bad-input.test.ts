/**
 * Bad input is a 4xx with a `detail`, never a 500 or a crash: text PostgreSQL cannot store,
 * undecodable paths, malformed Host headers and request lines, refused preflights; and the
 * same robustness in the Web PubSub stand-in.
 */
import { WebPubSubServiceClient } from "@azure/web-pubsub";
import jwt from "jsonwebtoken";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { docs } from "../../functions/docs";
import { messagesMarkRead } from "../../functions/messages-mark-read";
import { startWebPubSubStandIn, type WebPubSubStandIn } from "../../local/webpubsub";
import { hasUndecodableEscape } from "../../shared/http/path-params";
import { unstorableTextIssues } from "../../shared/http/text";
import { registerOverHttp, type HttpUser } from "../support/api";
import { call } from "../support/http";
import { rawExchange, rawRequest } from "../support/raw-http";
import { useLocalStack } from "../support/stack";

const local = useLocalStack();
let base: string;
let port: number;
let alice: HttpUser;
let bob: HttpUser;

beforeAll(async () => {
  base = local.url;
  port = Number(new URL(base).port);
  alice = await registerOverHttp(base, "bad_alice");
  bob = await registerOverHttp(base, "bad_bob");
});

const auth = (user: HttpUser) => ({ authorization: `Bearer ${user.token}` });
const postJson = (path: string, body: string, headers: Record<string, string> = {}) =>
  fetch(`${base}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });

interface Issue {
  loc: (string | number)[];
  msg: string;
  type: string;
}

/** The locations of a 422's issues, after checking it is one in the contract's shape. */
async function issueLocations(res: Response): Promise<(string | number)[][]> {
  expect(res.status).toBe(422);
  const body = (await res.json()) as { detail: Issue[] };
  for (const issue of body.detail) expect(issue).toMatchObject({ type: "string_unicode", msg: expect.stringContaining("U+0000") });
  return body.detail.map((i) => i.loc);
}

describe("text holding U+0000 or an unpaired surrogate is a 422 naming the field", () => {
  it("in a JSON body: the field, even one the schema ignores, at any depth, and in a key", async () => {
    // JSON.stringify escapes lone surrogates (\ud800), so they reach the server as sent.
    expect(
      await issueLocations(await postJson("/users/", JSON.stringify({ username: "nul\u0000name", password: "correct horse battery" }))),
    ).toEqual([["body", "username"]]);
    const send = (message: unknown) => postJson("/messages/", JSON.stringify(message), auth(alice));
    expect(await issueLocations(await send({ recipient_id: bob.id, title: "high \ud800 alone", body: "ok" }))).toEqual([["body", "title"]]);
    expect(await issueLocations(await send({ recipient_id: bob.id, title: "ok", body: "low \udfff alone" }))).toEqual([["body", "body"]]);
    expect(await issueLocations(await send({ recipient_id: bob.id, title: "ok", body: "ok", meta: { tags: ["fine", "\u0000"] } }))).toEqual(
      [["body", "meta", "tags", 1]],
    );
    expect(await issueLocations(await send({ recipient_id: bob.id, title: "ok", body: "ok", "k\u0000": 1 }))).toEqual([
      ["body", "k\u0000"],
    ]);
    // A proper pair is one character and is stored.
    expect((await send({ recipient_id: bob.id, title: "emoji \ud83d\ude00", body: "ok" })).status).toBe(200);
  });

  it("in a form, urlencoded or multipart", async () => {
    const urlencoded = await fetch(`${base}/token`, {
      method: "POST",
      body: new URLSearchParams({ username: "bad_alice\u0000", password: "x" }),
    });
    expect(await issueLocations(urlencoded)).toEqual([["body", "username"]]);
    const form = new FormData();
    form.set("username", "bad_alice");
    form.set("password", "pass\u0000word");
    expect(await issueLocations(await fetch(`${base}/token`, { method: "POST", body: form }))).toEqual([["body", "password"]]);
  });

  it("in the query of any function, before it runs", async () => {
    expect(await issueLocations(await fetch(`${base}/users/?q=%00`, { headers: auth(alice) }))).toEqual([["query", "q"]]);
    expect(await issueLocations(await fetch(`${base}/messages/inbox/?limit=5&extra=a%00`, { headers: auth(alice) }))).toEqual([
      ["query", "extra"],
    ]);
    expect(await issueLocations(await fetch(`${base}/ws/?token=%00`))).toEqual([["query", "token"]]);
  });

  it("in a path parameter", async () => {
    expect(await issueLocations(await fetch(`${base}/messages/%00/read`, { method: "PUT", headers: auth(bob) }))).toEqual([
      ["path", "message_id"],
    ]);
    expect(await issueLocations(await fetch(`${base}/docs/a%00b`))).toEqual([["path", "asset"]]);
  });

  it("answers a deeply nested body without overflowing the stack", async () => {
    const depth = 200_000;
    const res = await postJson("/users/", `${"[".repeat(depth)}"\\u0000"${"]".repeat(depth)}`);
    expect(res.status).toBe(422);
    expect(((await res.json()) as { detail: Issue[] }).detail[0].loc).toHaveLength(depth + 1);
  });

  it("reports at most 20 places however many there are", () => {
    expect(
      unstorableTextIssues(
        Array.from({ length: 1000 }, () => "\u0000"),
        "body",
      ),
    ).toHaveLength(20);
    expect(unstorableTextIssues({ a: ["x", { b: "\ud83d\ude00" }], c: 1, d: null }, "body")).toEqual([]);
  });
});

describe("other input no query may see", () => {
  it("a validly signed token naming no possible user is a 401, not a query", async () => {
    const secret = process.env.SECRET_KEY as string;
    const exp = Math.floor(Date.now() / 1000) + 600;
    for (const claims of [
      { sub: "nul\u0000user", exp },
      { sub: "lone\ud800", exp },
      { sub: "bad_alice", uid: 2 ** 40, exp },
      { sub: "bad_alice", uid: 0, exp },
    ]) {
      const res = await fetch(`${base}/messages/unread_count/`, { headers: { authorization: `Bearer ${jwt.sign(claims, secret)}` } });
      expect(res.status, JSON.stringify(claims)).toBe(401);
      expect(await res.json()).toEqual({ detail: "Could not validate credentials" });
    }
  });

  it("a Web PubSub handshake without WebHook-Request-Origin is a 400 with a detail", async () => {
    const key = encodeURIComponent(process.env.WEBPUBSUB_EVENT_HANDLER_KEY as string);
    const res = await fetch(`${base}/webpubsub/events?key=${key}`, { method: "OPTIONS", headers: { "ce-awpsversion": "1.0" } });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ detail: "Malformed Web PubSub event" });
  });
});

describe("a path whose percent-encoding does not decode is a 404", () => {
  it.each(["/messages/%zz/read", "/messages/%ED%A0%80/read", "/messages/%C0%AF/read", "/messages/%/read"])("PUT %s", async (path) => {
    const res = await fetch(`${base}${path}`, { method: "PUT", headers: auth(bob) });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ detail: "Not Found" });
  });

  it("in a catch-all parameter too", async () => {
    const res = await fetch(`${base}/docs/%E0%A4%A`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ detail: "Not Found" });
  });

  it("also when the Functions host passes the escape on in the parameter, as Kestrel does", async () => {
    for (const [handler, params] of [
      [messagesMarkRead, { message_id: "%zz" }],
      [messagesMarkRead, { message_id: "%ED%A0%80" }],
      [docs, { asset: "swagger-ui.css%" }],
    ] as const) {
      const res = await call(handler, { method: "PUT", params, token: bob.token });
      expect(res.status, JSON.stringify(params)).toBe(404);
      expect(res.body).toEqual({ detail: "Not Found" });
    }
    // Sent encoded as %25zz, it decodes to the same text: the same answer either way.
    expect((await fetch(`${base}/messages/%25zz/read`, { method: "PUT", headers: auth(bob) })).status).toBe(404);
    expect(hasUndecodableEscape("a%20b%C3%A9")).toBe(false);
    expect(hasUndecodableEscape("%2F")).toBe(false);
  });

  it("while a query keeps an undecodable escape as text, as Starlette does", async () => {
    const res = await fetch(`${base}/users/?q=%zz`, { headers: auth(alice) });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual([]);
  });
});

const get = (path: string, headers: string) => `GET ${path} HTTP/1.1\r\n${headers}Connection: close\r\n\r\n`;

describe("the HTTP layer of the local host", () => {
  it.each([
    ["a space", "Host: a b\r\n"],
    ["a port past 65535", "Host: a:99999\r\n"],
    ["an empty value", "Host:\r\n"],
    ["a path", "Host: a/b\r\n"],
    ["user info", "Host: u@h\r\n"],
    ["two of them", "Host: a\r\nHost: b\r\n"],
    ["none (HTTP/1.1)", ""],
  ])("answers a Host header with %s with 400 and a JSON detail, each time, between good requests", async (_name, hostLines) => {
    // The host remembers the last Host value it parsed: a refusal must not be forgotten, nor a good one taken for a bad one.
    for (let round = 0; round < 2; round++) {
      const res = await rawRequest(port, get("/health", hostLines));
      expect(res.status).toBe(400);
      expect(res.headers["content-type"]).toContain("application/json");
      expect(res.json).toEqual({ detail: expect.stringMatching(/Host header/) });
      expect((await rawRequest(port, get("/health", "Host: x\r\n"))).json).toEqual({ status: "ok" });
    }
  });

  it("serves HTTP/1.0 without Host and absolute-form targets", async () => {
    expect((await rawRequest(port, "GET /health HTTP/1.0\r\n\r\n")).json).toEqual({ status: "ok" });
    expect((await rawRequest(port, get("http://elsewhere/health", "Host: x\r\n"))).json).toEqual({ status: "ok" });
  });

  it("answers a target that is no path with 400, and a double slash with 404", async () => {
    expect(await rawRequest(port, get("*", "Host: x\r\n"))).toMatchObject({
      status: 400,
      json: { detail: "The request target is malformed" },
    });
    expect(await rawRequest(port, get("//", "Host: x\r\n"))).toMatchObject({ status: 404, json: { detail: "Not Found" } });
  });

  it.each([
    ["a lowercase method", "get /health HTTP/1.1\r\nHost: x\r\n\r\n"],
    ["an unknown version", "GET /health HTTP/9.9\r\nHost: x\r\n\r\n"],
    ["a space in the path", "GET /he alth HTTP/1.1\r\nHost: x\r\n\r\n"],
    ["a raw NUL in the path", "GET /health\u0000 HTTP/1.1\r\nHost: x\r\n\r\n"],
    ["raw non-ASCII bytes in the path", "GET /h\u00ff\u00fe HTTP/1.1\r\nHost: x\r\n\r\n"],
    ["no target", "GET HTTP/1.1\r\nHost: x\r\n\r\n"],
    ["bare LF line ends", "GET /health HTTP/1.1\nHost: x\n\n"],
    ["an HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"],
    ["plain garbage", "\u0016\u0003\u0001\u0002\u0000\u0001\u0000\u0001\u00fc\u0003\u0003\r\n\r\n"],
    ["NUL in the Authorization header", "GET /users/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a\u0000b\r\n\r\n"],
    ["NUL in the Idempotency-Key header", "POST /messages/ HTTP/1.1\r\nHost: x\r\nIdempotency-Key: k\u0000\r\nContent-Length: 0\r\n\r\n"],
    ["a header without a colon", "GET /health HTTP/1.1\r\nHost: x\r\nbroken\r\n\r\n"],
    ["a folded header", "GET /health HTTP/1.1\r\nHost: x\r\n folded: y\r\n\r\n"],
    ["a non-numeric Content-Length", "POST /users/ HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"],
    ["two different Content-Lengths", "POST /users/ HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}"],
    [
      "a broken chunked body",
      "POST /users/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    ],
  ])("answers a request with %s with 400 and a JSON detail", async (_name, bytes) => {
    const res = await rawRequest(port, bytes);
    expect(res.status).toBe(400);
    expect(res.headers["content-type"]).toBe("application/json");
    expect(res.json).toEqual({ detail: "The request is not valid HTTP/1.1" });
  });

  /** A request with `target` sent as raw UTF-8 bytes, the way a client that does not percent-encode sends it. */
  const utf8Request = (method: string, target: string, headers = "Host: x\r\n") =>
    Buffer.concat([
      Buffer.from(`${method} `),
      Buffer.from(target, "utf8"),
      Buffer.from(` HTTP/1.1\r\n${headers}Connection: close\r\n\r\n`),
    ]);

  it.each([
    ["raw UTF-8 in the query", utf8Request("HEAD", "/users?q=é")],
    ["raw UTF-8 in the path", utf8Request("HEAD", "/messages/é/read/")],
    ["raw UTF-8 in an unknown path", utf8Request("HEAD", "/é")],
    ["a raw NUL in the path", utf8Request("HEAD", "/health\u0000")],
    ["a header without a colon", utf8Request("HEAD", "/health", "Host: x\r\nbroken\r\n")],
    ["oversized headers", utf8Request("HEAD", "/health", `Host: x\r\nX-Big: ${"a".repeat(20_000)}\r\n`)],
    ["a malformed Host", utf8Request("HEAD", "/health", "Host: a b\r\n")],
    ["no Host", utf8Request("HEAD", "/health", "")],
    ["an unknown path", utf8Request("HEAD", "/nowhere")],
  ])("answers a HEAD with %s with a readable 4xx head and no body", async (_name, bytes) => {
    const res = await rawExchange(port, bytes);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(res.headers["content-type"]).toContain("application/json");
    expect(Number(res.headers["content-length"])).toBeGreaterThan(0);
    expect(res.afterHead.toString("latin1")).toBe("");
  });

  it("answers the same requests as GET with the JSON detail", async () => {
    for (const target of ["/users?q=é", "/messages/é/read/"]) {
      const res = await rawExchange(port, utf8Request("GET", target));
      expect(res.status, target).toBe(400);
      expect(res.json).toEqual({ detail: "The request is not valid HTTP/1.1" });
    }
  });

  it("answers oversized headers with 431 and CONNECT with 405, each with a JSON detail", async () => {
    expect((await rawRequest(port, get("/health", `Host: x\r\nX-Big: ${"a".repeat(20_000)}\r\n`))).json).toEqual({
      detail: "The request line and headers are too large",
    });
    expect(await rawRequest(port, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")).toMatchObject({
      status: 405,
      json: { detail: "Method Not Allowed" },
    });
  });

  it("answers an Expect it cannot meet with 417 and a JSON detail", async () => {
    expect(await rawRequest(port, get("/health", "Host: x\r\nExpect: something-else\r\n"))).toMatchObject({
      status: 417,
      json: { detail: "Only the Expect value 100-continue is supported" },
    });
  });

  it("refuses a preflight from an origin it does not allow with 403 and a JSON detail", async () => {
    const preflight = (origin: string) =>
      fetch(`${base}/messages/`, { method: "OPTIONS", headers: { origin, "access-control-request-method": "POST" } });
    const refused = await preflight("https://evil.example");
    expect(refused.status).toBe(403);
    expect(refused.headers.get("access-control-allow-origin")).toBeNull();
    expect(await refused.json()).toEqual({ detail: "CORS preflight refused: this origin is not allowed" });
    expect((await preflight("http://localhost:5173")).status).toBe(204);
  });

  it("still answers normal requests afterwards", async () => {
    expect(await (await fetch(`${base}/health`)).json()).toEqual({ status: "ok" });
  });
});

describe("the Web PubSub stand-in", () => {
  const KEY = "bad-input-stand-in-access-key-0123456789";
  let standIn: WebPubSubStandIn;
  beforeAll(async () => {
    standIn = await startWebPubSubStandIn({ port: 0, accessKey: KEY });
  });
  afterAll(async () => {
    await standIn?.close();
  });

  /** A REST token for exactly this URL, as the SDK signs one. */
  const restCall = (method: string, path: string) => {
    const token = jwt.sign({ aud: `${standIn.endpoint}${path}` }, KEY, { algorithm: "HS256", expiresIn: 60 });
    return `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi`;
  };

  it("answers a double-slash target with 404 instead of crashing", async () => {
    expect(await rawRequest(standIn.port, get("//", "Host: x\r\n"))).toMatchObject({ status: 404, json: { code: "NotFound" } });
    expect(
      await rawRequest(
        standIn.port,
        get(
          "//",
          "Host: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n",
        ),
      ),
    ).toMatchObject({ status: 404 });
  });

  it("answers a malformed Host with 400, on REST calls and socket handshakes", async () => {
    expect(await rawRequest(standIn.port, get("/api/hubs/h/:send", "Host: a b\r\n"))).toMatchObject({
      status: 400,
      json: { code: "BadRequest", message: "The Host header is malformed" },
    });
    const upgrade = get(
      "/client/hubs/h",
      "Host: a:99999\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n",
    );
    expect((await rawRequest(standIn.port, upgrade)).status).toBe(400);
  });

  it("answers a malformed request line with 400 and its error shape", async () => {
    expect(await rawRequest(standIn.port, "GET /api HTTP/9.9\r\n\r\n")).toMatchObject({
      status: 400,
      json: { code: "BadRequest", message: "The request is not valid HTTP/1.1" },
    });
  });

  it("answers undecodable percent-encoding in a REST path with 404", async () => {
    expect((await rawRequest(standIn.port, restCall("POST", "/api/hubs/h/users/u/:send?api-version=2024-01-01"))).status).toBe(202);
    expect(await rawRequest(standIn.port, restCall("POST", "/api/hubs/h/users/%zz/:send?api-version=2024-01-01"))).toMatchObject({
      status: 404,
      json: { code: "NotFound" },
    });
    expect(await rawRequest(standIn.port, restCall("POST", "/api/hubs/%ED%A0%80/:send?api-version=2024-01-01"))).toMatchObject({
      status: 404,
      json: { code: "NotFound" },
    });
  });

  it("still serves the SDK afterwards", async () => {
    const client = new WebPubSubServiceClient(standIn.connectionString, "h", { allowInsecureConnection: true });
    await expect(client.sendToUser("someone", { hello: 1 })).resolves.toBeDefined();
  });
});
